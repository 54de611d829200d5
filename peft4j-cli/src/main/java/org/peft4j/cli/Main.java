package org.peft4j.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** The {@code peft4j} command: parses the arguments and runs a subcommand. */
@Command(name = "peft4j",
        header = "Parameter-efficient fine-tuning of transformer models on the JVM.",
        mixinStandardHelpOptions = true,
        versionProvider = VersionInfo.class,
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, PredictCommand.class, FuseCommand.class,
                MergeCommand.class, CompareCommand.class, SummaryCommand.class, ConformanceCommand.class, BenchCommand.class,
                VersionCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces of errors, not just their message.")
    boolean verbose;

    final InputStream in;
    final PrintStream out;
    final PrintStream err;

    Main(InputStream in, PrintStream out, PrintStream err) {
        this.in = in;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(System.out, System.err, args));
    }

    /** Runs the command line {@code args}, printing to {@code out} and {@code err}; returns the exit code. */
    static int run(PrintStream out, PrintStream err, String... args) {
        return run(System.in, out, err, args);
    }

    /** Runs the command line {@code args} reading standard input from {@code in}; returns the exit code. */
    static int run(InputStream in, PrintStream out, PrintStream err, String... args) {
        return commandLine(in, out, err).execute(args);
    }

    static CommandLine commandLine(PrintStream out, PrintStream err) {
        return commandLine(System.in, out, err);
    }

    static CommandLine commandLine(InputStream in, PrintStream out, PrintStream err) {
        Main main = new Main(in, out, err);
        CommandLine cl = new CommandLine(main);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cl.setExecutionExceptionHandler((e, line, parseResult) -> {
            if (main.verbose) {
                e.printStackTrace(err);
            } else {
                err.println("peft4j: " + describe(e) + " (--verbose shows the stack trace)");
            }
            return 1;
        });
        return cl;
    }

    @Spec
    CommandSpec spec;

    /** Without a subcommand: the usage help. */
    @Override
    public void run() {
        spec.commandLine().usage(out);
    }

    /** Whether the standard output is a terminal: the launcher says so, else the JVM's console is asked. */
    static boolean interactive() {
        String tty = System.getProperty("peft4j.tty");
        if (tty != null) return Boolean.parseBoolean(tty);
        var console = System.console();
        return console != null && console.isTerminal();
    }

    /** A one-line description of an error for the user. */
    static String describe(Throwable e) {
        String message = e.getMessage();
        return switch (e) {
            case NoSuchFileException f -> "no such file: " + f.getFile();
            case AccessDeniedException f -> "permission denied: " + f.getFile();
            case FileAlreadyExistsException f -> "file already exists: " + f.getFile();
            case OutOfMemoryError o -> "out of memory (raise the heap with PEFT4J_JAVA_OPTS=-Xmx...): " + message;
            default -> message == null || message.isBlank() ? e.getClass().getSimpleName()
                    : message.replace('\n', ' ');
        };
    }
}
