package org.peft4j.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the {@code peft4j} command line in-process and keeps what it printed. */
final class Cli {
    final int exitCode;
    final String out;
    final String err;

    private Cli(int exitCode, String out, String err) {
        this.exitCode = exitCode;
        this.out = out;
        this.err = err;
    }

    /** Runs {@code args} with an empty standard input. */
    static Cli run(String... args) { return runWithInput("", args); }

    /** Runs {@code args} reading {@code stdin} as standard input. */
    static Cli runWithInput(String stdin, String... args) {
        ByteArrayOutputStream outBytes = new ByteArrayOutputStream(), errBytes = new ByteArrayOutputStream();
        int code = Main.run(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(outBytes, true, StandardCharsets.UTF_8), new PrintStream(errBytes, true, StandardCharsets.UTF_8), args);
        return new Cli(code, outBytes.toString(StandardCharsets.UTF_8), errBytes.toString(StandardCharsets.UTF_8));
    }

    /** The user object of the innermost subcommand that {@code args} selects, without running it. */
    static Object parse(String... args) {
        var result = Main.commandLine(System.out, System.err).parseArgs(args);
        while (result.hasSubcommand()) result = result.subcommand();
        return result.commandSpec().userObject();
    }

    /** Fails with everything printed unless the command exited with 0. */
    Cli ok() {
        if (exitCode != 0) throw new AssertionError("exit status " + exitCode + "\n--- out:\n" + out + "\n--- err:\n" + err);
        return this;
    }

    /**
     * A tiny spam/ham JSONL file of {@code perClass} examples per class: short texts a sentence encoder
     * separates easily, so that a few training steps already move the loss.
     */
    static Path spamHamJsonl(Path dir, int perClass) throws IOException {
        String[] spam = {"WIN a FREE cruise now, click here", "Cheap pills online, no prescription needed",
            "You have won 1,000,000 dollars, send your bank details", "Limited offer: buy cheap watches today",
            "Hot singles in your area want to meet you", "Make money fast working from home",
            "Claim your prize now, act fast", "Lowest mortgage rates guaranteed, apply now"};
        String[] ham = {"Can we move our meeting to Tuesday afternoon?", "Here are the notes from yesterday's review",
            "The build is broken on the main branch again", "Lunch on Friday with the team?",
            "Please review my patch to the parser", "The quarterly report is attached for comments",
            "Your library book is due next week", "Thanks for the help with the deployment"};
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < perClass; i++) {
            lines.add("{\"text\": \"" + spam[i % spam.length] + (i >= spam.length ? " #" + i : "") + "\", \"label\": \"spam\"}");
            lines.add("{\"text\": \"" + ham[i % ham.length] + (i >= ham.length ? " #" + i : "") + "\", \"label\": \"ham\"}");
        }
        Path file = dir.resolve("spam-ham.jsonl");
        Files.write(file, lines);
        return file;
    }
}
