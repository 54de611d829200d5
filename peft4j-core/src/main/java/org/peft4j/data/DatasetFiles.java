package org.peft4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads a dataset from a JSON Lines or CSV file.
 *
 * <p><b>Fields.</b> {@code text} (required), {@code text_pair} or {@code text2} (optional second text of
 * a pair), {@code label} (a class name, or a number) and {@code value} (a number). In CSV these are the
 * header's column names (case-insensitive; other columns are ignored); in JSONL the object's keys.
 *
 * <p><b>Task</b>, unless the caller names one: a {@code value} field on any row makes the file a
 * REGRESSION; else, when no row has a label, CAUSAL_LM (plain text); else when every label is a number
 * and there are more than {@value #MAX_NUMERIC_CLASSES} distinct ones, REGRESSION on the label; else
 * CLASSIFICATION with the labels' text as class names ({@code 0}/{@code 1} stay two classes). Rows must
 * agree: once one row has a label (or value), all must.
 *
 * <p>Every problem is a {@link DatasetFormatException} naming the file and the 1-based line.
 */
final class DatasetFiles {
    /** Up to this many distinct numeric labels are class ids, beyond it a regression target. */
    static final int MAX_NUMERIC_CLASSES = 10;
    private static final Pattern NUMBER = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One row as read, before the task is decided. {@code label} is its text, {@code number} its numeric reading or null. */
    private record Row(int line, String text, String textPair, String label, Double number, Double value) {}

    private DatasetFiles() {}

    /** Reads {@code path} as JSONL ({@code .jsonl}, {@code .ndjson}, {@code .json}) or CSV ({@code .csv}); {@code task} null means detect. */
    static Dataset read(Path path, TaskType task) throws IOException {
        String name = path.getFileName() == null ? path.toString() : path.getFileName().toString();
        String lower = name.toLowerCase(Locale.ROOT);
        if (!Files.isRegularFile(path)) throw new IOException(path + ": no such data file");
        boolean jsonl = lower.endsWith(".jsonl") || lower.endsWith(".ndjson") || lower.endsWith(".json");
        if (!jsonl && !lower.endsWith(".csv")) throw new IOException(path + ": unknown data file type, expected .jsonl or .csv");
        BufferedReader in = new BufferedReader(new StringReader(utf8(path.toString(), Files.readAllBytes(path))));
        List<Row> rows = jsonl ? jsonl(path.toString(), in) : csv(path.toString(), in);
        return toDataset(path.toString(), name, rows, task);
    }

    /** {@code bytes} as UTF-8 text; an invalid byte is an error naming its line. */
    private static String utf8(String file, byte[] bytes) throws DatasetFormatException {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(in, out, true);
        if (result.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) if (bytes[i] == '\n') line++;
            throw new DatasetFormatException(file, line, "not UTF-8 text (byte " + in.position() + ")");
        }
        return out.flip().toString();
    }

    private static List<Row> jsonl(String file, BufferedReader in) throws IOException {
        List<Row> rows = new ArrayList<>();
        int lineNo = 0;
        for (String line; (line = in.readLine()) != null; ) {
            lineNo++;
            if (lineNo == 1) line = stripBom(line);
            if (line.isBlank()) continue;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                throw new DatasetFormatException(file, lineNo, "not valid JSON (" + e.getOriginalMessage() + ")");
            }
            if (node == null || !node.isObject()) throw new DatasetFormatException(file, lineNo, "expected a JSON object {\"text\": ..., \"label\": ...}");
            String text = jsonText(file, lineNo, node, "text", true);
            String pair = jsonText(file, lineNo, node, "text_pair", false);
            if (pair == null) pair = jsonText(file, lineNo, node, "text2", false);
            String label = null;
            Double number = null;
            JsonNode l = node.get("label");
            if (l != null && !l.isNull()) {
                if (l.isNumber()) {
                    number = l.asDouble();
                    label = l.asText();
                } else if (l.isTextual() || l.isBoolean()) {
                    label = l.asText();
                    number = numeric(label);
                } else {
                    throw new DatasetFormatException(file, lineNo, "field \"label\" must be a string or a number, got " + l.getNodeType().name().toLowerCase(Locale.ROOT));
                }
            }
            Double value = null;
            JsonNode v = node.get("value");
            if (v != null && !v.isNull()) {
                if (v.isNumber()) value = v.asDouble();
                else if (v.isTextual() && numeric(v.asText()) != null) value = numeric(v.asText());
                else throw new DatasetFormatException(file, lineNo, "field \"value\" must be a number, got " + v);
            }
            rows.add(new Row(lineNo, text, pair, label, number, value));
        }
        return rows;
    }

    private static String jsonText(String file, int line, JsonNode node, String field, boolean required) throws DatasetFormatException {
        JsonNode f = node.get(field);
        if (f == null || f.isNull()) {
            if (required) throw new DatasetFormatException(file, line, "missing field \"" + field + "\"");
            return null;
        }
        if (!f.isTextual()) throw new DatasetFormatException(file, line, "field \"" + field + "\" must be a string, got " + f.getNodeType().name().toLowerCase(Locale.ROOT));
        return f.asText();
    }

    private static List<Row> csv(String file, BufferedReader in) throws IOException {
        CsvReader reader = new CsvReader(file, in);
        List<String> header = reader.next();
        if (header == null) throw new DatasetFormatException(file, 1, "empty file, expected a header row such as text,label");
        Map<String, Integer> columns = new TreeMap<>();
        for (int i = 0; i < header.size(); i++) {
            String column = (i == 0 ? stripBom(header.get(i)) : header.get(i)).trim().toLowerCase(Locale.ROOT);
            if (columns.putIfAbsent(column, i) != null) throw new DatasetFormatException(file, 1, "column \"" + column + "\" appears twice in the header");
        }
        Integer text = columns.get("text");
        if (text == null) throw new DatasetFormatException(file, 1, "the header " + header + " has no \"text\" column");
        Integer pair = columns.containsKey("text_pair") ? columns.get("text_pair") : columns.get("text2");
        Integer label = columns.get("label");
        Integer value = columns.get("value");
        List<Row> rows = new ArrayList<>();
        for (List<String> fields; (fields = reader.next()) != null; ) {
            int line = reader.recordLine();
            if (fields.size() == 1 && fields.get(0).isEmpty()) continue; // blank line
            if (fields.size() != header.size()) {
                throw new DatasetFormatException(file, line, fields.size() + " fields but the header has " + header.size());
            }
            String l = label == null || fields.get(label).isEmpty() ? null : fields.get(label);
            Double v = null;
            if (value != null && !fields.get(value).isEmpty()) {
                v = numeric(fields.get(value));
                if (v == null) throw new DatasetFormatException(file, line, "column \"value\" must be a number, got \"" + fields.get(value) + "\"");
            }
            rows.add(new Row(line, fields.get(text), pair == null ? null : fields.get(pair), l, l == null ? null : numeric(l), v));
        }
        return rows;
    }

    private static Dataset toDataset(String file, String name, List<Row> rows, TaskType task) throws IOException {
        if (rows.isEmpty()) throw new DatasetFormatException(file, 0, "no examples");
        checkPairs(file, rows);
        if (task == null) task = detect(file, rows);
        List<Example> examples = new ArrayList<>(rows.size());
        Set<String> labels = new LinkedHashSet<>();
        for (Row r : rows) {
            switch (task) {
                case CLASSIFICATION -> {
                    if (r.label() == null) throw new DatasetFormatException(file, r.line(), "missing label");
                    labels.add(r.label());
                    examples.add(new Example(r.text(), r.textPair(), r.label(), Double.NaN, r.line()));
                }
                case REGRESSION -> {
                    Double v = r.value() != null ? r.value() : r.number();
                    if (v == null) {
                        throw new DatasetFormatException(file, r.line(), r.label() == null ? "missing value"
                                : "label \"" + r.label() + "\" is not a number, as a regression needs");
                    }
                    if (!Double.isFinite(v)) throw new DatasetFormatException(file, r.line(), "value " + v + " is not finite");
                    examples.add(new Example(r.text(), r.textPair(), null, v, r.line()));
                }
                case CAUSAL_LM -> examples.add(new Example(r.textPair() == null ? r.text() : r.text() + "\n" + r.textPair(), null, null, Double.NaN, r.line()));
            }
        }
        return new Dataset(name, task, examples, new ArrayList<>(labels));
    }

    /** The rule in the class comment; also checks that all rows agree on having a label or value. */
    private static TaskType detect(String file, List<Row> rows) throws DatasetFormatException {
        Row first = rows.get(0);
        for (Row r : rows) {
            if ((r.value() != null) != (first.value() != null)) {
                throw new DatasetFormatException(file, (r.value() == null ? r : first).line(), "missing value (other rows have one)");
            }
        }
        if (first.value() != null) return TaskType.REGRESSION;
        for (Row r : rows) {
            if ((r.label() != null) != (first.label() != null)) {
                throw new DatasetFormatException(file, (r.label() == null ? r : first).line(), "missing label (other rows have one)");
            }
        }
        if (first.label() == null) return TaskType.CAUSAL_LM;
        Set<Double> distinct = new LinkedHashSet<>();
        for (Row r : rows) {
            if (r.number() == null) return TaskType.CLASSIFICATION;
            distinct.add(r.number());
        }
        return distinct.size() > MAX_NUMERIC_CLASSES ? TaskType.REGRESSION : TaskType.CLASSIFICATION;
    }

    /** A batch cannot mix pairs and single texts, so a file cannot either. */
    private static void checkPairs(String file, List<Row> rows) throws DatasetFormatException {
        boolean pairs = rows.get(0).textPair() != null;
        for (Row r : rows) {
            if ((r.textPair() != null) != pairs) {
                throw new DatasetFormatException(file, r.line(), (pairs ? "missing" : "unexpected") + " second text (text_pair); line "
                        + rows.get(0).line() + (pairs ? " has one" : " has none") + " and all rows must agree");
            }
        }
    }

    private static Double numeric(String s) {
        String t = s.trim();
        return NUMBER.matcher(t).matches() ? Double.valueOf(t) : null;
    }

    private static String stripBom(String s) {
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }
}
