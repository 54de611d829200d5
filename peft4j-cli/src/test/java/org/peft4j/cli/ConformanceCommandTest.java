package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConformanceCommandTest {
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    private int run(String... args) { return Main.run(out, err, args); }

    private String out() { return outBytes.toString(StandardCharsets.UTF_8); }

    private String err() { return errBytes.toString(StandardCharsets.UTF_8); }

    @Test
    void passingBaseCasesExitZero() throws IOException {
        copyBase("bert");
        copyBase("gpt2");
        assertEquals(0, run("conformance", tmp.toString()), out() + err());
        String[] lines = out().split("\n");
        assertEquals(3, lines.length, out());
        assertTrue(lines[0].startsWith("PASS bert/base  output="), lines[0]);
        assertTrue(lines[1].startsWith("PASS gpt2/base  output="), lines[1]);
        assertEquals("2 passed, 0 failed", lines[2]);
        assertEquals("", err());
    }

    @Test
    void aWrongExpectedValueFailsItsCaseAndExitsOne() throws IOException {
        copyBase("bert");
        copyBase("gpt2");
        addToFirstValue(tmp.resolve("gpt2/base/expected.safetensors"), "loss", 1.0f);
        assertEquals(1, run("conformance", tmp.toString()), out() + err());
        String text = out();
        assertTrue(text.contains("PASS bert/base"), text);
        assertTrue(text.contains("FAIL gpt2/base") && text.contains("-- loss error "), text);
        assertTrue(text.endsWith("1 passed, 1 failed\n"), text);
    }

    @Test
    void aCaseThatCannotRunIsAFailure() throws IOException {
        copyBase("bert");
        Files.write(tmp.resolve("bert/base/expected.safetensors"), new byte[] {1, 2, 3});
        assertEquals(1, run("conformance", tmp.toString()), out() + err());
        assertTrue(out().startsWith("FAIL bert/base"), out());
        assertTrue(out().endsWith("0 passed, 1 failed\n"), out());
    }

    @Test
    void anArchitectureFolderIsNotAFixtureFolder() throws IOException {
        copyBase("bert");
        assertEquals(1, run("conformance", tmp.resolve("bert").toString()));
        assertOneLineError("looks like one architecture's or case's folder");
    }

    @Test
    void aFolderWithoutCasesIsNotAFixtureFolder() throws IOException {
        Files.createDirectories(tmp.resolve("bert"));
        assertEquals(1, run("conformance", tmp.toString()));
        assertOneLineError("is not a fixture folder: it holds no <arch>/<case>/ folders");
        assertEquals("", out());
    }

    @Test
    void aMissingFolderIsNamed() {
        assertEquals(1, run("conformance", tmp.resolve("nowhere").toString()));
        assertOneLineError("no such file: " + tmp.resolve("nowhere"));
    }

    @Test
    void helpNeedsNoFolder() {
        assertEquals(0, run("conformance", "--help"));
        assertTrue(out().contains("Usage: peft4j conformance"), out());
    }

    private void assertOneLineError(String part) {
        assertTrue(err().startsWith("peft4j: ") && err().contains(part), err());
        assertEquals(1, err().lines().count(), err());
    }

    /** Copies {@code <arch>/inputs.safetensors} and {@code <arch>/base/} of the shared fixtures into tmp. */
    private void copyBase(String arch) throws IOException {
        Path from = hfFixtures().resolve(arch), to = tmp.resolve(arch);
        Files.createDirectories(to.resolve("base"));
        Files.copy(from.resolve("inputs.safetensors"), to.resolve("inputs.safetensors"));
        try (Stream<Path> files = Files.list(from.resolve("base"))) {
            files.forEach(f -> {
                try {
                    Files.copy(f, to.resolve("base").resolve(f.getFileName().toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    /** Adds {@code delta} to the first element of F32 tensor {@code name} in a safetensors file, in place. */
    private static void addToFirstValue(Path file, String name, float delta) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) buf.getLong(0);
        JsonNode entry = new ObjectMapper().readTree(new String(bytes, 8, headerLength, StandardCharsets.UTF_8)).get(name);
        assertEquals("F32", entry.get("dtype").asText(), name);
        int at = 8 + headerLength + entry.get("data_offsets").get(0).asInt();
        buf.putFloat(at, buf.getFloat(at) + delta);
        Files.write(file, bytes);
    }

    /** {@code shared/fixtures/hf} found from the working directory upwards. */
    private static Path hfFixtures() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("fixtures").resolve("hf");
            if (Files.isDirectory(candidate)) return candidate;
        }
        return fail("shared/fixtures/hf not found above " + Path.of("").toAbsolutePath());
    }
}
