package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

class MainTest {
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private int run(String... args) { return Main.run(out, err, args); }

    private String out() { return outBytes.toString(StandardCharsets.UTF_8); }

    private String err() { return errBytes.toString(StandardCharsets.UTF_8); }

    /** The user object of the innermost subcommand that {@code args} selects. */
    private Object parse(String... args) {
        ParseResult result = Main.commandLine(out, err).parseArgs(args);
        while (result.hasSubcommand()) result = result.subcommand();
        return result.commandSpec().userObject();
    }

    @Test
    void versionPrintsVersionJavaAndVectorWidth() {
        assertEquals(0, run("version"));
        String[] lines = out().split("\n");
        assertEquals(3, lines.length, out());
        assertTrue(lines[0].matches("peft4j \\d+\\.\\d+\\.\\d+.*"), lines[0]);
        assertTrue(lines[1].startsWith("java " + Runtime.version()), lines[1]);
        assertTrue(lines[2].matches("vector \\d+-bit float \\(\\d+ lanes\\), \\d+ compute threads?"), lines[2]);
        assertEquals("", err());
    }

    @Test
    void versionOptionMatchesVersionCommand() {
        assertEquals(0, run("--version"));
        assertEquals(String.join("\n", VersionInfo.lines()) + "\n", out());
    }

    @Test
    void noArgumentsPrintsUsageListingTheSubcommands() {
        assertEquals(0, run());
        for (String name : new String[] {"demo", "train", "eval", "predict", "fuse", "merge", "compare", "bench", "version", "--verbose"}) {
            assertTrue(out().contains(name), name + " missing from usage:\n" + out());
        }
    }

    @Test
    void benchWithoutNameListsGemm() {
        assertEquals(0, run("bench"));
        assertTrue(out().contains("Usage: peft4j bench [--verbose] [COMMAND]"), out());
        assertTrue(out().contains("gemm  GEMM GFLOP/s of peft4j next to OpenBLAS sgemm."), out());
    }

    @Test
    void parsesBenchGemmJson() {
        var gemm = assertInstanceOf(BenchCommand.Gemm.class, parse("bench", "gemm", "--json", "rows.json"));
        assertEquals(Path.of("rows.json"), gemm.json);
        assertEquals(null, assertInstanceOf(BenchCommand.Gemm.class, parse("bench", "gemm")).json);
    }

    @Test
    void parsesDemoOptionsWithDefaults() {
        var demo = assertInstanceOf(DemoCommand.class, parse("demo", "--output", "out", "--train-limit", "20", "--seed", "7"));
        assertEquals(Path.of("out"), demo.output);
        demo.applyDefaults();
        assertEquals(20, demo.budget.trainLimit);
        assertEquals(7L, demo.budget.seed);
        var defaults = assertInstanceOf(DemoCommand.class, parse("demo"));
        defaults.applyDefaults();
        assertEquals(Path.of("peft4j-demo"), defaults.output);
        assertEquals(DemoCommand.METHOD, defaults.method);
        assertEquals(DemoCommand.TRAIN_LIMIT, defaults.budget.trainLimit);
        assertEquals(DemoCommand.LR, defaults.budget.lr);
    }

    @Test
    void parsesVersionAndVerboseAnywhere() {
        assertInstanceOf(VersionCommand.class, parse("version"));
        CommandLine cl = Main.commandLine(out, err);
        cl.parseArgs("demo", "--verbose");
        assertTrue(((Main) cl.getCommand()).verbose, "--verbose after the subcommand reaches Main");
    }

    @Test
    void unknownOptionIsAUsageErrorWithExitCode2() {
        assertEquals(2, run("bench", "gemm", "--bogus"));
        assertTrue(err().contains("Unknown option: '--bogus'"), err());
    }

    @Test
    void unknownSubcommandIsAUsageError() {
        assertEquals(2, run("train-everything"));
        assertTrue(err().contains("train-everything"), err());
    }

    @Test
    void failingCommandPrintsOneLineWithoutStackTrace() {
        assertEquals(1, run("train", "--model", "m", "--data", "d", "--method", "lora", "--output", "o", "--epochs", "0"));
        assertEquals("peft4j: epochs must be >= 1, got 0 (--verbose shows the stack trace)\n", err());
    }

    @Test
    void verbosePrintsTheStackTrace() {
        assertEquals(1, run("train", "--model", "m", "--data", "d", "--method", "lora", "--output", "o", "--epochs", "0", "--verbose"));
        assertTrue(err().contains("IllegalArgumentException: epochs must be >= 1, got 0"), err());
        assertTrue(err().contains("\tat org.peft4j.cli."), err());
    }

    @Test
    void describeNamesMissingFiles() {
        assertEquals("no such file: /x/y", Main.describe(new java.nio.file.NoSuchFileException("/x/y")));
        assertEquals("IllegalStateException", Main.describe(new IllegalStateException()));
        assertEquals("two lines", Main.describe(new RuntimeException("two\nlines")));
    }
}
