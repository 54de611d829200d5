package org.peft4j.data;

import java.io.IOException;

/** A data file that cannot be read as a dataset; the message names the file, the line and what is wrong. */
public final class DatasetFormatException extends IOException {
    private final String file;
    private final int line;

    public DatasetFormatException(String file, int line, String problem) {
        super(file + (line > 0 ? ", line " + line : "") + ": " + problem);
        this.file = file;
        this.line = line;
    }

    /** The file at fault. */
    public String file() { return file; }

    /** The 1-based line at fault, 0 when the problem is not on one line. */
    public int line() { return line; }
}
