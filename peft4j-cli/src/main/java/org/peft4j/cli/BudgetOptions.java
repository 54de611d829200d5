package org.peft4j.cli;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.train.TrainingConfig;
import picocli.CommandLine.Option;

/**
 * The training budget and settings shared by {@code train}, {@code fuse} and {@code compare} (a
 * picocli mixin). Unset options keep {@link TrainingConfig#defaults()}, except the learning rate,
 * whose default depends on the method ({@link MethodDefaults}).
 */
final class BudgetOptions {
    /** Tokens per row when none is given: MiniLM was trained on 128-token inputs. */
    static final int DEFAULT_MAX_LENGTH = 128;
    /** The seed of the train/dev/test split when none is given, so that every method sees the same test set. */
    static final long DEFAULT_SPLIT_SEED = 42;

    @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training set (default: 3).")
    Integer epochs;

    @Option(names = "--batch-size", paramLabel = "N", description = "Examples per batch (default: 16).")
    Integer batchSize;

    @Option(names = "--lr", paramLabel = "X", description = "Peak learning rate (default: by method: 1e-3 for bottleneck"
            + " adapters and LoRA, 3e-3 for Compacter and IA3, 1e-2 for BitFit and PEFT prefix, 5e-4 for prefix tuning, 3e-2 for prompt tuning).")
    Double lr;

    @Option(names = "--max-length", paramLabel = "N", description = "Tokens per example; longer texts are truncated (default: 128).")
    Integer maxLength;

    @Option(names = "--train-limit", paramLabel = "N", description = "Train on at most N examples, a seeded random subset (default: all).")
    Integer trainLimit;

    @Option(names = "--eval-limit", paramLabel = "N", description = "Evaluate on at most N dev and N test examples (default: all).")
    Integer evalLimit;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of shuffling, dropout and initialisation (default: 42).")
    Long seed;

    @Option(names = "--split-seed", paramLabel = "N", description = "Seed of the 80/10/10 train/dev/test split (default: 42).")
    Long splitSeed;

    @Option(names = "--grad-accumulation", paramLabel = "N", description = "Batches summed into one optimizer step (default: 1).")
    Integer gradAccumulation;

    @Option(names = "--max-steps", paramLabel = "N", description = "Stop after N optimizer steps (default: no cap).")
    Long maxSteps;

    @Option(names = "--warmup-ratio", paramLabel = "X", description = "Share of the steps warming the learning rate up (default: 0.06).")
    Double warmupRatio;

    @Option(names = "--weight-decay", paramLabel = "X", description = "AdamW weight decay of matrices (default: 0.01).")
    Double weightDecay;

    @Option(names = "--schedule", paramLabel = "NAME", description = "Learning-rate curve after warmup: linear, cosine or constant (default: linear).")
    String schedule;

    @Option(names = "--patience", paramLabel = "N", description = "Stop after N epochs without a better dev metric (default: never).")
    Integer patience;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "Also checkpoint every N steps, not only after each epoch.")
    Integer checkpointEvery;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Storage of the frozen weights: auto (as in the file), f32 or bf16 (default: auto).")
    String dtype;

    int maxLength() { return maxLength == null ? DEFAULT_MAX_LENGTH : maxLength; }

    long splitSeed() { return splitSeed == null ? DEFAULT_SPLIT_SEED : splitSeed; }

    WeightStorage storage() { return dtype == null ? WeightStorage.AS_STORED : WeightStorage.parse(dtype); }

    /** The learning rate for {@code methodSpec}: the given one, else the method's default. */
    double lr(String methodSpec) { return lr != null ? lr : MethodDefaults.learningRate(methodSpec); }

    /** The trainer's settings for {@code methodSpec}; a log line every {@code logEvery} steps. */
    TrainingConfig config(String methodSpec) {
        if (maxLength != null && maxLength < 1) throw new IllegalArgumentException("--max-length must be >= 1, got " + maxLength);
        TrainingConfig c = TrainingConfig.defaults().withLr(lr(methodSpec)).withLogEvery(5);
        if (epochs != null) c = c.withEpochs(epochs);
        if (batchSize != null) c = c.withBatchSize(batchSize);
        if (seed != null) c = c.withSeed(seed);
        if (trainLimit != null) c = c.withTrainLimit(trainLimit);
        if (evalLimit != null) c = c.withEvalLimit(evalLimit);
        if (gradAccumulation != null) c = c.withGradAccumulation(gradAccumulation);
        if (maxSteps != null) c = c.withMaxSteps(maxSteps);
        if (warmupRatio != null) c = c.withWarmupRatio(warmupRatio);
        if (weightDecay != null) c = c.withWeightDecay(weightDecay);
        if (schedule != null) c = c.withSchedule(TrainingConfig.Schedule.parse(schedule));
        if (patience != null) c = c.withEarlyStoppingPatience(patience);
        if (checkpointEvery != null) c = c.withCheckpointEvery(checkpointEvery);
        return c;
    }

    /** The options that were given, as command-line arguments (what {@code compare} passes to each run). */
    List<String> asArguments() {
        List<String> a = new ArrayList<>();
        add(a, "--epochs", epochs);
        add(a, "--batch-size", batchSize);
        add(a, "--lr", lr);
        add(a, "--max-length", maxLength);
        add(a, "--train-limit", trainLimit);
        add(a, "--eval-limit", evalLimit);
        add(a, "--seed", seed);
        add(a, "--split-seed", splitSeed);
        add(a, "--grad-accumulation", gradAccumulation);
        add(a, "--max-steps", maxSteps);
        add(a, "--warmup-ratio", warmupRatio);
        add(a, "--weight-decay", weightDecay);
        add(a, "--schedule", schedule);
        add(a, "--patience", patience);
        add(a, "--checkpoint-every", checkpointEvery);
        add(a, "--dtype", dtype);
        return a;
    }

    private static void add(List<String> args, String name, Object value) {
        if (value == null) return;
        args.add(name);
        args.add(value.toString());
    }
}
