package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetFilesTest {
    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private DatasetFormatException failure(String name, String content) throws IOException {
        Path file = write(name, content);
        return assertThrows(DatasetFormatException.class, () -> Datasets.load(file.toString()));
    }

    @Test
    void jsonlClassificationKeepsSortedLabelNamesAndLines() throws IOException {
        Path file = write("d.jsonl", """
                {"text": "great film", "label": "pos"}

                {"text": "dull", "label": "neg"}
                {"text": "so-so", "label": "neutral"}
                """);
        Dataset d = Datasets.load(file.toString());
        assertEquals(TaskType.CLASSIFICATION, d.task());
        assertEquals("d.jsonl", d.name());
        assertEquals(List.of("neg", "neutral", "pos"), d.labels());
        assertEquals(3, d.size());
        assertEquals(new Example("dull", null, "neg", Double.NaN, 3), d.examples().get(1));
        assertEquals(2, d.labelIndex("pos"));
    }

    @Test
    void jsonlPairsAndNumericClassLabels() throws IOException {
        Path file = write("pairs.jsonl", """
                {"text": "a man sleeps", "text_pair": "a person rests", "label": 1}
                {"text": "a cat", "text2": "a truck", "label": 0}
                """);
        Dataset d = Datasets.load(file.toString());
        assertEquals(TaskType.CLASSIFICATION, d.task());
        assertEquals(List.of("0", "1"), d.labels());
        assertEquals("a person rests", d.examples().get(0).textPair());
        assertEquals("a truck", d.examples().get(1).textPair());
    }

    @Test
    void regressionByValueFieldOrManyNumericLabels() throws IOException {
        Dataset byValue = Datasets.load(write("v.jsonl", "{\"text\": \"a\", \"value\": 0.5}\n{\"text\": \"b\", \"value\": -2}\n").toString());
        assertEquals(TaskType.REGRESSION, byValue.task());
        assertEquals(-2.0, byValue.examples().get(1).value());
        assertNull(byValue.examples().get(1).label());

        StringBuilder many = new StringBuilder("text,label\n");
        for (int i = 0; i <= DatasetFiles.MAX_NUMERIC_CLASSES; i++) many.append("t").append(i).append(',').append(i * 0.25).append('\n');
        Dataset numeric = Datasets.load(write("n.csv", many.toString()).toString());
        assertEquals(TaskType.REGRESSION, numeric.task());
        assertEquals(2.5, numeric.examples().get(10).value());
        assertEquals(List.of(), numeric.labels());

        Dataset forced = Datasets.load(write("f.csv", "text,label\na,1\nb,2\n").toString(), TaskType.REGRESSION);
        assertEquals(TaskType.REGRESSION, forced.task());
        assertEquals(2.0, forced.examples().get(1).value());
    }

    @Test
    void textOnlyFileIsCausalLm() throws IOException {
        Dataset d = Datasets.load(write("t.jsonl", "{\"text\": \"Call me Ishmael.\"}\n{\"text\": \"Some years ago\"}\n").toString());
        assertEquals(TaskType.CAUSAL_LM, d.task());
        assertEquals(2, d.size());
    }

    @Test
    void csvQuotingCommasNewlinesAndDoubledQuotes() throws IOException {
        Path file = write("q.csv", "\uFEFFText,label,extra\r\n"
                + "\"hello, world\",greeting,x\r\n"
                + "\"line one\nline two\",multi,\"\"\r\n"
                + "\"she said \"\"hi\"\"\",quote,y\n"
                + "plain,greeting,z");
        Dataset d = Datasets.load(file.toString());
        assertEquals(List.of("greeting", "multi", "quote"), d.labels());
        List<Example> e = d.examples();
        assertEquals("hello, world", e.get(0).text());
        assertEquals("line one\nline two", e.get(1).text());
        assertEquals("she said \"hi\"", e.get(2).text());
        assertEquals("plain", e.get(3).text());
        assertEquals(List.of(2, 3, 5, 6), e.stream().map(Example::line).toList());
    }

    @Test
    void csvPairColumn() throws IOException {
        Dataset d = Datasets.load(write("p.csv", "label,text,text_pair\nyes,q1,a1\nno,q2,a2\n").toString());
        assertEquals("a2", d.examples().get(1).textPair());
        assertEquals("no", d.examples().get(1).label());
    }

    @Test
    void badJsonLineNamesFileAndLine() throws IOException {
        DatasetFormatException e = failure("bad.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n\n{\"text\": \"oops\", \"label\": }\n");
        assertEquals(3, e.line());
        assertTrue(e.getMessage().contains("bad.jsonl, line 3: not valid JSON"), e.getMessage());
    }

    @Test
    void jsonlRowProblemsNameTheirLine() throws IOException {
        assertMessage(failure("a.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"label\": \"b\"}\n"), 2, "missing field \"text\"");
        assertMessage(failure("b.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"x\"}\n"), 2, "missing label");
        assertMessage(failure("c.jsonl", "{\"text\": \"ok\", \"label\": {\"x\": 1}}\n"), 1, "\"label\" must be a string or a number");
        assertMessage(failure("d.jsonl", "{\"text\": 5, \"label\": \"a\"}\n"), 1, "\"text\" must be a string");
        assertMessage(failure("e.jsonl", "[1, 2]\n"), 1, "expected a JSON object");
        assertMessage(failure("f.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"text_pair\": \"c\", \"label\": \"y\"}\n"), 2, "second text");
        assertMessage(failure("g.jsonl", "{\"text\": \"a\", \"value\": \"high\"}\n"), 1, "\"value\" must be a number");
    }

    @Test
    void csvRowProblemsNameTheirLine() throws IOException {
        assertMessage(failure("a.csv", "text,label\n\"two\nlines\",x\nonly-one-field\n"), 4, "1 fields but the header has 2");
        assertMessage(failure("b.csv", "text,label\nok,x\n\"never closed,x\n"), 3, "quoted field never closed");
        assertMessage(failure("c.csv", "text,label\nsays \"hi\",x\n"), 2, "a \" inside an unquoted field");
        assertMessage(failure("d.csv", "text,label\n\"quoted\"junk,x\n"), 2, "after a closing quote");
        assertMessage(failure("e.csv", "sentence,label\nx,y\n"), 1, "no \"text\" column");
        assertMessage(failure("f.csv", ""), 1, "empty file");
        assertMessage(failure("g.csv", "text,label\n"), 0, "no examples");
        Path file = write("h.csv", "text,label\na,1\nb,positive\n");
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> Datasets.load(file.toString(), TaskType.REGRESSION));
        assertMessage(e, 3, "label \"positive\" is not a number");
    }

    @Test
    void invalidUtf8NamesItsLine() throws IOException {
        Path file = dir.resolve("latin1.csv");
        Files.write(file, new byte[] {'t', 'e', 'x', 't', ',', 'l', 'a', 'b', 'e', 'l', '\n', 'o', 'k', ',', 'a', '\n', 'c', 'a', 'f', (byte) 0xe9, ',', 'b', '\n'});
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> Datasets.load(file.toString()));
        assertMessage(e, 3, "not UTF-8 text");
    }

    @Test
    void unknownFileTypeAndMissingFile() {
        IOException type = assertThrows(IOException.class, () -> Datasets.load(write("x.txt", "hello").toString()));
        assertTrue(type.getMessage().contains("expected .jsonl or .csv"), type.getMessage());
        IOException missing = assertThrows(IOException.class, () -> Datasets.load(dir.resolve("nope.csv").toString()));
        assertTrue(missing.getMessage().contains("no such data file"), missing.getMessage());
    }

    private static void assertMessage(DatasetFormatException e, int line, String problem) {
        assertEquals(line, e.line(), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
        assertTrue(e.getMessage().startsWith(e.file()), e.getMessage());
    }
}
