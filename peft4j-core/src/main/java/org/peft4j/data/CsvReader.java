package org.peft4j.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads RFC 4180 CSV records: comma-separated fields, a field in double quotes may hold commas, line
 * breaks and doubled quotes ({@code ""} for one {@code "}); records end at CRLF or LF. Tracks the line
 * each record starts on for error messages.
 */
final class CsvReader {
    private static final int NOTHING_PEEKED = -2;

    private final String file;
    private final BufferedReader in;
    private int line = 1;
    private int recordLine;
    private int peeked = NOTHING_PEEKED;

    CsvReader(String file, BufferedReader in) {
        this.file = file;
        this.in = in;
    }

    /** The 1-based line the last record returned by {@link #next()} starts on. */
    int recordLine() { return recordLine; }

    /** The next record's fields, or null at the end of the input. */
    List<String> next() throws IOException {
        int c = read();
        if (c == -1) return null;
        recordLine = line;
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        while (true) {
            if (c == '"' && field.isEmpty()) {
                int quoteLine = line;
                while (true) { // inside quotes
                    c = read();
                    if (c == -1) throw new DatasetFormatException(file, quoteLine, "quoted field never closed (a \" is missing)");
                    if (c == '"') {
                        if (peek() == '"') {
                            read();
                            field.append('"');
                        } else {
                            break;
                        }
                    } else {
                        if (c == '\n') line++;
                        field.append((char) c);
                    }
                }
                c = read();
                if (c != ',' && c != '\n' && c != '\r' && c != -1) {
                    throw new DatasetFormatException(file, line, "unexpected character '" + (char) c + "' after a closing quote; expected , or end of line");
                }
                continue;
            }
            if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else if (c == '\r' || c == '\n' || c == -1) {
                if (c == '\r' && peek() == '\n') read();
                if (c != -1) line++;
                fields.add(field.toString());
                return fields;
            } else if (c == '"') {
                throw new DatasetFormatException(file, line, "a \" inside an unquoted field; quote the whole field and double the quote (\"\")");
            } else {
                field.append((char) c);
            }
            c = read();
        }
    }

    private int read() throws IOException {
        if (peeked != NOTHING_PEEKED) {
            int c = peeked;
            peeked = NOTHING_PEEKED;
            return c;
        }
        return in.read();
    }

    private int peek() throws IOException {
        if (peeked == NOTHING_PEEKED) peeked = read();
        return peeked;
    }
}
