package org.peft4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.peft4j.cli.report.ComparisonReport;
import org.peft4j.cli.report.MethodResult;
import org.peft4j.train.TaskModel;
import org.peft4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code peft4j compare}: trains several methods on the same data and budget and reports them side by side.
 *
 * <p>Each method trains in a JVM of its own (this one's Java, class path and JVM options), one after
 * the other, so that its time and peak memory are its own: in one process the memory high-water mark
 * only grows, and the heap one run grew would be charged to the next.
 */
@Command(name = "compare", header = "Train several methods under one budget and report them side by side.",
        description = {"Trains each method as train does, on the same split, budget and seed, each in a fresh JVM so"
                + " that its time and peak memory are its own, and writes OUTPUT/report.html (self-contained: the"
                + " results table, test metric against trainable parameters on a log axis, training time, peak"
                + " memory and loss curves as inline SVG), OUTPUT/results.json and OUTPUT/results.csv. Each run"
                + " folder is OUTPUT/runs/<method>/. A method that fails is reported as failed and the others go on;"
                + " the exit status is then 1."})
final class CompareCommand implements Callable<Integer> {
    static final String RUNS_DIR = "runs";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Lines of a failed run's standard error kept for its error message. */
    private static final int TAIL_LINES = 5;
    /** What the JVM prints at every start while the vector API incubates. */
    static final String INCUBATOR_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector";

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", required = true, paramLabel = "MODEL", description = "A checkpoint folder, or builtin:all-minilm-l6-v2.")
    String model;

    @Option(names = "--data", required = true, paramLabel = "DATA", description = "A .jsonl/.csv file or builtin:….")
    String data;

    @Option(names = "--methods", required = true, paramLabel = "SPECS",
            description = "Comma-separated method specifications, e.g. seq_bn,lora[r=8,alpha=16],bitfit (commas inside [] belong to the method).")
    String methods;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "Where the runs and the report go.")
    Path output;

    @Option(names = "--resume", description = "Keep methods whose run already finished; resume the others from their checkpoints.")
    boolean resume;

    @Mixin
    BudgetOptions budget;

    @Override
    public Integer call() throws IOException, InterruptedException {
        List<String> specs = splitMethods(methods);
        Map<String, String> runs = runNames(specs);
        for (String spec : specs) budget.lr(spec); // an unknown method fails here, before any training
        Files.createDirectories(output.resolve(RUNS_DIR));
        List<MethodResult> results = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, String> e : runs.entrySet()) {
            String spec = e.getKey();
            Path dir = output.resolve(RUNS_DIR).resolve(e.getValue());
            main.out.printf(Locale.ROOT, "%n=== [%d/%d] %s → %s%n", ++i, runs.size(), spec, dir);
            String error = null;
            if (resume && Files.isRegularFile(dir.resolve(Trainer.METRICS_JSON))) {
                main.out.println("already trained; kept (without --resume it is trained again)");
            } else {
                error = runChild(trainArguments(spec, dir));
            }
            results.add(error == null ? readResult(spec, e.getValue(), dir) : MethodResult.failed(spec, e.getValue(), budget.lr(spec), error));
            report(results).write(output);
        }
        ComparisonReport report = report(results);
        printSummary(results, main.out);
        main.out.println("report   " + output.resolve(ComparisonReport.HTML_FILE).toAbsolutePath());
        main.out.println("results  " + output.resolve(ComparisonReport.JSON_FILE).toAbsolutePath() + ", " + ComparisonReport.CSV_FILE);
        return report.results().stream().allMatch(MethodResult::succeeded) ? 0 : 1;
    }

    /** The {@code train} command line of one method. */
    List<String> trainArguments(String spec, Path dir) {
        List<String> args = new ArrayList<>(List.of("train", "--model", model, "--data", data, "--method", spec,
                "--output", dir.toString()));
        args.addAll(budget.asArguments());
        if (resume) args.add("--resume");
        return args;
    }

    /** Runs {@code peft4j <args>} in a new JVM, its output passed through; returns null, or the error it ended with. */
    String runChild(List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp")) command.add(a); // a debugger port cannot be opened twice
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).start();
        p.getOutputStream().close();
        Deque<String> errors = new ArrayDeque<>();
        Thread stderr = Thread.ofPlatform().start(() -> copyErrors(p.getErrorStream(), main.err, errors));
        p.getInputStream().transferTo(new NonClosing(main.out));
        int code = p.waitFor();
        stderr.join();
        if (code == 0) return null;
        String last;
        synchronized (errors) {
            last = errors.stream().filter(l -> l.startsWith("peft4j: ")).reduce((a, b) -> b).orElse(String.join(" | ", errors));
        }
        return "exit status " + code + ": " + last.replaceFirst("^peft4j: ", "").replace(" (--verbose shows the stack trace)", "");
    }

    /**
     * Passes a child's standard error on line by line, keeping its last lines for the error message;
     * the JVM's notice that the vector module incubates is dropped, as the launcher drops this JVM's.
     */
    private static void copyErrors(InputStream in, PrintStream err, Deque<String> tail) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.equals(INCUBATOR_NOTICE)) continue;
                err.println(line);
                synchronized (tail) {
                    if (!line.isBlank()) tail.addLast(line.strip());
                    if (tail.size() > TAIL_LINES) tail.removeFirst();
                }
            }
        } catch (IOException e) {
            err.println("peft4j: lost the output of a run: " + e.getMessage());
        }
    }

    /** A stream that flushes {@code out} after every write (progress bars appear as drawn) and leaves it open. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(PrintStream out) { super(out); }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            out.flush();
        }

        @Override
        public void close() throws IOException { out.flush(); }
    }

    /** A finished run's numbers, from its {@code metrics.json} and loss log. */
    static MethodResult readResult(String spec, String run, Path dir) throws IOException {
        JsonNode m = JSON.readTree(dir.resolve(Trainer.METRICS_JSON).toFile());
        Map<String, Double> test = new LinkedHashMap<>();
        for (String key : List.of("accuracy", "macro_f1", "mse", "pearson", "perplexity", "loss")) {
            if (m.hasNonNull(key)) test.put(key, m.get(key).asDouble());
        }
        List<double[]> curve = new ArrayList<>();
        Path log = dir.resolve(Trainer.METRICS_LOG);
        if (Files.isRegularFile(log)) {
            try (BufferedReader r = Files.newBufferedReader(log)) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.isBlank()) continue;
                    JsonNode n = JSON.readTree(line);
                    if (n.path("type").asText().equals("train")) curve.add(new double[] {n.path("step").asDouble(), n.path("loss").asDouble()});
                }
            }
        }
        long adapterBytes = 0;
        Path adapter = dir.resolve(Trainer.ADAPTER_DIR);
        for (String f : List.of("adapter.safetensors", TaskModel.HEAD_WEIGHTS)) {
            if (Files.isRegularFile(adapter.resolve(f))) adapterBytes += Files.size(adapter.resolve(f));
        }
        return new MethodResult(spec, run, null, m.path("config").path("lr").asDouble(), m.path("metric").asText(null), test,
                m.path("trainable_parameters").asLong(), m.path("total_parameters").asLong(), m.path("wall_seconds").asDouble(),
                m.path("peak_rss_bytes").asLong(), adapterBytes, curve);
    }

    private ComparisonReport report(List<MethodResult> results) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("model", model);
        settings.put("data", data);
        settings.put("budget", budget.asArguments().isEmpty() ? "train's defaults" : String.join(" ", budget.asArguments()));
        settings.put("runs", output.resolve(RUNS_DIR).toAbsolutePath().toString());
        return new ComparisonReport(data + " on " + model, settings, results);
    }

    private static void printSummary(List<MethodResult> results, PrintStream out) {
        int width = Math.max(6, results.stream().mapToInt(r -> r.method().length()).max().orElse(6));
        out.printf(Locale.ROOT, "%n%-" + width + "s  %10s  %12s  %8s  %9s  %8s%n", "method", "test", "trainable", "share", "time", "memory");
        for (MethodResult r : results) {
            if (!r.succeeded()) {
                out.printf(Locale.ROOT, "%-" + width + "s  failed: %s%n", r.method(), r.error());
                continue;
            }
            out.printf(Locale.ROOT, "%-" + width + "s  %10s  %,12d  %8s  %9s  %8s%n", r.method(),
                    Double.isNaN(r.score()) ? "-" : String.format(Locale.ROOT, "%.4f", r.score()), r.trainableParameters(),
                    TrainProgress.percent(r.trainableParameters(), r.totalParameters()), ProgressBar.formatDuration(r.wallSeconds()),
                    TrainJob.formatBytes(r.peakRssBytes()));
        }
    }

    /** Splits {@code a,b[x=1,y=2],c} at the commas outside brackets. */
    static List<String> splitMethods(String list) {
        List<String> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i <= list.length(); i++) {
            char c = i < list.length() ? list.charAt(i) : ',';
            if (c == '[' || c == '(' || c == '{') depth++;
            else if (c == ']' || c == ')' || c == '}') depth--;
            else if (c == ',' && depth == 0) {
                String spec = list.substring(start, i).strip();
                if (!spec.isEmpty()) out.add(spec);
                start = i + 1;
            }
        }
        if (depth != 0) throw new IllegalArgumentException("--methods '" + list + "' has unbalanced brackets");
        if (out.isEmpty()) throw new IllegalArgumentException("--methods names no method");
        return out;
    }

    /** Each method's run folder name: its specification with unsafe characters replaced, made unique. */
    static Map<String, String> runNames(List<String> specs) {
        Map<String, String> out = new LinkedHashMap<>();
        Set<String> used = new HashSet<>();
        for (String spec : specs) {
            if (out.containsKey(spec)) throw new IllegalArgumentException("--methods lists " + spec + " twice");
            String base = spec.replaceAll("[^A-Za-z0-9_.=+-]+", "_").replaceAll("^_+|_+$", "");
            if (base.isEmpty()) base = "method";
            String name = base;
            for (int i = 2; !used.add(name); i++) name = base + "-" + i;
            out.put(spec, name);
        }
        return out;
    }
}
