package org.peft4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.optim.LrSchedule;

/**
 * How a {@link Trainer} trains: the optimisation settings and the loop's limits.
 *
 * @param epochs                passes over the training set
 * @param batchSize             examples per micro-batch (the batch source must produce this size)
 * @param lr                    peak learning rate of AdamW
 * @param weightDecay           AdamW's decoupled weight decay, applied to matrices only (not to biases,
 *                              norm weights or other vectors, as Hugging Face's Trainer does)
 * @param warmupRatio           share of the optimizer steps spent warming the learning rate up from 0
 * @param schedule              the learning-rate curve after warmup
 * @param gradAccumulation      micro-batches whose gradients are summed into one optimizer step
 * @param maxGradNorm           global L2 norm the gradients are clipped to; 0 turns clipping off
 * @param seed                  drives the shuffling, dropout and head initialisation
 * @param evalEachEpoch         evaluate on the dev set after every epoch (model selection, early stopping)
 * @param earlyStoppingPatience stop after this many evaluations in a row without a better dev metric; 0 never stops early
 * @param maxSteps              stop after this many optimizer steps in all; 0 means no cap
 * @param trainLimit            use at most this many training examples (a seeded random subset); 0 means all
 * @param evalLimit             use at most this many dev and test examples each; 0 means all
 * @param checkpointEvery       also write the resumable checkpoint every this many optimizer steps; 0 only after epochs
 * @param logEvery              write the mean training loss to the metrics log every this many optimizer steps
 */
public record TrainingConfig(
        int epochs,
        int batchSize,
        double lr,
        double weightDecay,
        double warmupRatio,
        Schedule schedule,
        int gradAccumulation,
        double maxGradNorm,
        long seed,
        boolean evalEachEpoch,
        int earlyStoppingPatience,
        long maxSteps,
        int trainLimit,
        int evalLimit,
        int checkpointEvery,
        int logEvery) {

    /** The learning-rate curve after warmup. */
    public enum Schedule {
        /** Linear decay to 0 at the last step (Hugging Face's default). */
        LINEAR,
        /** Half a cosine from the peak down to 0 at the last step. */
        COSINE,
        /** The peak learning rate until the end. */
        CONSTANT;

        /** The schedule with {@code warmup} warmup steps out of {@code total}. */
        public LrSchedule create(long warmup, long total) {
            return switch (this) {
                case LINEAR -> LrSchedule.linearWithWarmup(warmup, total);
                case COSINE -> LrSchedule.cosineWithWarmup(warmup, total);
                case CONSTANT -> LrSchedule.constantWithWarmup(warmup);
            };
        }

        /** {@code linear}, {@code cosine} or {@code constant}, any case. */
        public static Schedule parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown schedule '" + name + "'; valid: linear, cosine, constant");
            }
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    public TrainingConfig {
        requirePositive("epochs", epochs);
        requirePositive("batchSize", batchSize);
        requirePositive("gradAccumulation", gradAccumulation);
        requirePositive("logEvery", logEvery);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be > 0, got " + lr);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
        }
        if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
            throw new IllegalArgumentException("warmupRatio must be in [0, 1], got " + warmupRatio);
        }
        if (!(maxGradNorm >= 0) || Double.isInfinite(maxGradNorm)) {
            throw new IllegalArgumentException("maxGradNorm must be >= 0 (0 turns clipping off), got " + maxGradNorm);
        }
        if (schedule == null) throw new IllegalArgumentException("schedule must not be null");
        requireNonNegative("earlyStoppingPatience", earlyStoppingPatience);
        requireNonNegative("maxSteps", maxSteps);
        requireNonNegative("trainLimit", trainLimit);
        requireNonNegative("evalLimit", evalLimit);
        requireNonNegative("checkpointEvery", checkpointEvery);
    }

    /**
     * 3 epochs of batch 16 at lr 5e-4, weight decay 0.01, 6% linear warmup then linear decay, clipping at
     * norm 1, seed 42, evaluation each epoch, no early stopping, no limits, a log line every 10 steps.
     */
    public static TrainingConfig defaults() {
        return new TrainingConfig(3, 16, 5e-4, 0.01, 0.06, Schedule.LINEAR, 1, 1.0, 42, true, 0, 0, 0, 0, 0, 10);
    }

    public TrainingConfig withEpochs(int v) { return new TrainingConfig(v, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withBatchSize(int v) { return new TrainingConfig(epochs, v, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withLr(double v) { return new TrainingConfig(epochs, batchSize, v, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withWeightDecay(double v) { return new TrainingConfig(epochs, batchSize, lr, v, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withWarmupRatio(double v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, v, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withSchedule(Schedule v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, v, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withGradAccumulation(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, v, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withMaxGradNorm(double v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, v, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withSeed(long v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, v, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withEvalEachEpoch(boolean v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, v, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withEarlyStoppingPatience(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, v, maxSteps, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withMaxSteps(long v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, v, trainLimit, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withTrainLimit(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, v, evalLimit, checkpointEvery, logEvery); }

    public TrainingConfig withEvalLimit(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, v, checkpointEvery, logEvery); }

    public TrainingConfig withCheckpointEvery(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, v, logEvery); }

    public TrainingConfig withLogEvery(int v) { return new TrainingConfig(epochs, batchSize, lr, weightDecay, warmupRatio, schedule, gradAccumulation, maxGradNorm, seed, evalEachEpoch, earlyStoppingPatience, maxSteps, trainLimit, evalLimit, checkpointEvery, v); }

    /** Every field under its snake_case name (the schedule in lower case), as checkpoints and reports store it. */
    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        n.put("epochs", epochs);
        n.put("batch_size", batchSize);
        n.put("lr", lr);
        n.put("weight_decay", weightDecay);
        n.put("warmup_ratio", warmupRatio);
        n.put("schedule", schedule.name().toLowerCase(Locale.ROOT));
        n.put("grad_accumulation", gradAccumulation);
        n.put("max_grad_norm", maxGradNorm);
        n.put("seed", seed);
        n.put("eval_each_epoch", evalEachEpoch);
        n.put("early_stopping_patience", earlyStoppingPatience);
        n.put("max_steps", maxSteps);
        n.put("train_limit", trainLimit);
        n.put("eval_limit", evalLimit);
        n.put("checkpoint_every", checkpointEvery);
        n.put("log_every", logEvery);
        return n;
    }

    /**
     * The fields whose value in {@code saved} (a {@link #toJson()} object) differs from this config's, as
     * {@code name: saved → now}; fields that do not change the numbers a run produces (how often it
     * checkpoints) are not compared. Empty when a run saved with {@code saved} can continue under this one.
     */
    List<String> differencesFrom(JsonNode saved) {
        List<String> out = new ArrayList<>();
        ObjectNode now = toJson();
        for (Iterator<Map.Entry<String, JsonNode>> it = now.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("checkpoint_every")) continue;
            JsonNode before = saved.get(e.getKey());
            if (before == null || !sameValue(before, e.getValue())) {
                out.add(e.getKey() + ": " + (before == null ? "absent" : before.asText()) + " → " + e.getValue().asText());
            }
        }
        return out;
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.asDouble() == b.asDouble();
        return a.equals(b);
    }

    private static void requirePositive(String name, long v) {
        if (v < 1) throw new IllegalArgumentException(name + " must be >= 1, got " + v);
    }

    private static void requireNonNegative(String name, long v) {
        if (v < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + v);
    }
}
