package org.peft4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.peft4j.data.Batch;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;
import org.peft4j.data.Splits;
import org.peft4j.io.AtomicFiles;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.ops.Elementwise;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.GradClip;
import org.peft4j.optim.OptimizerState;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Trains a {@link TaskModel}'s adapter and head: AdamW with warmup and a schedule, gradient
 * accumulation, clipping and seeded dropout; evaluation on the dev set after each epoch, keeping the
 * best adapter and stopping early when it stops improving; a resumable checkpoint after every epoch
 * (and every {@link TrainingConfig#checkpointEvery()} steps), from which a killed run continues to
 * the same final numbers as an uninterrupted one.
 *
 * <p>The output folder holds:
 * <ul>
 *   <li>{@value #ADAPTER_DIR}/ — the kept adapter and head (best dev metric), with {@value #DEV_METRICS}</li>
 *   <li>{@value #CHECKPOINT_DIR}/ — the last checkpoint: {@value #MODEL_DIR}/ (adapter and head),
 *       {@value #OPTIMIZER_FILE}, {@value #STATE_FILE}</li>
 *   <li>{@value #METRICS_LOG} — one JSON object per log step and per evaluation</li>
 *   <li>{@value #METRICS_JSON} — the kept adapter's test metrics, parameter counts, time and memory</li>
 * </ul>
 */
public final class Trainer {
    public static final String ADAPTER_DIR = "adapter";
    public static final String CHECKPOINT_DIR = "checkpoint";
    public static final String METRICS_LOG = "metrics.jsonl";
    public static final String METRICS_JSON = "metrics.json";
    public static final String DEV_METRICS = "dev_metrics.json";
    static final String MODEL_DIR = "model";
    static final String OPTIMIZER_FILE = "optimizer.safetensors";
    static final String STATE_FILE = "trainer_state.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainingConfig config;
    private final BatchSource source;
    private final Path outputDir;
    private ProgressListener listener = ProgressListener.NONE;

    /**
     * @param config    how to train
     * @param source    the batches; its batch size must be {@code config.batchSize()}
     * @param outputDir where the adapter, checkpoint and metrics go (created if needed)
     */
    public Trainer(TrainingConfig config, BatchSource source, Path outputDir) {
        if (source.batchSize() != config.batchSize()) {
            throw new IllegalArgumentException("the batch source makes batches of " + source.batchSize()
                    + " but the training config says " + config.batchSize());
        }
        this.config = config;
        this.source = source;
        this.outputDir = outputDir;
    }

    /** Reports progress to {@code l} (replacing any previous listener). */
    public Trainer listener(ProgressListener l) {
        this.listener = l == null ? ProgressListener.NONE : l;
        return this;
    }

    public TrainingConfig config() { return config; }

    public Path outputDir() { return outputDir; }

    /**
     * Trains on {@code splits.train()}, selects on {@code splits.dev()} and reports on {@code splits.test()}
     * (dev and test may be null or empty). With {@code resume}, continues from the output folder's
     * checkpoint when there is one (the settings must be the same as the run that wrote it); without,
     * any earlier checkpoint there is discarded. On return the model holds the kept adapter.
     */
    public TrainingResult fit(TaskModel model, Splits splits, boolean resume) throws IOException {
        Dataset train = limit(splits.train(), config.trainLimit());
        Dataset dev = splits.dev() == null ? null : limit(splits.dev(), config.evalLimit());
        Dataset test = splits.test() == null ? null : limit(splits.test(), config.evalLimit());
        for (Dataset d : new Dataset[] {train, dev, test}) {
            if (d != null && d.task() != model.task()) {
                throw new IllegalArgumentException(d.name() + " is a " + d.task() + " dataset but the model does " + model.task());
            }
        }
        if (train.size() == 0) throw new IllegalArgumentException(train.name() + ": no training examples");
        boolean devEval = config.evalEachEpoch() && dev != null && dev.size() > 0;
        Files.createDirectories(outputDir);
        Path checkpoint = outputDir.resolve(CHECKPOINT_DIR);
        Path kept = outputDir.resolve(ADAPTER_DIR);
        AtomicFolder.recover(checkpoint);
        AtomicFolder.recover(kept);

        TrainerState state;
        boolean resuming = resume && Files.isRegularFile(checkpoint.resolve(STATE_FILE));
        if (resuming) {
            state = readState(checkpoint);
            model.restore(checkpoint.resolve(MODEL_DIR));
        } else {
            AtomicFolder.deleteTree(checkpoint);
            state = new TrainerState();
        }
        model.setTrainingForwards(state.forwards);
        Map<String, Tensor> params = model.trainableParameters();
        if (params.isEmpty()) throw new IllegalStateException("nothing to train: the model has no trainable tensor");
        AdamW optimizer = optimizer(params);
        long stepsPerEpoch = ceilDiv(source.trainOrder(train, config.seed(), 0).size(), config.gradAccumulation());
        long totalSteps = config.epochs() * stepsPerEpoch;
        if (config.maxSteps() > 0) totalSteps = Math.min(totalSteps, config.maxSteps());
        optimizer.setSchedule(config.schedule().create((long) Math.ceil(totalSteps * config.warmupRatio()), totalSteps));
        if (resuming) importOptimizer(optimizer, checkpoint, state);

        Run run = new Run(model, train, dev, devEval, optimizer, params, state, totalSteps, checkpoint, kept);
        try (MetricsLog log = new MetricsLog(outputDir.resolve(METRICS_LOG), state.logPosition)) {
            run.log = log;
            listener.started(new ProgressListener.Plan(totalSteps, state.step, config.epochs(), stepsPerEpoch, train.size(),
                    devEval ? dev.size() : 0, test == null ? 0 : test.size(), model.trainableParameterCount(),
                    model.totalParameterCount()));
            run.train();
            return run.finish(test);
        }
    }

    /** One call of {@link #fit}: the loop's working state. */
    private final class Run {
        final TaskModel model;
        final Dataset train, dev;
        final boolean devEval;
        final AdamW optimizer;
        final Map<String, Tensor> params;
        final TrainerState state;
        final long totalSteps;
        final Path checkpoint, kept;
        final PeakMemory memory = new PeakMemory();
        /** Recycles one step's activations and gradients into the next when batch shapes repeat. */
        final Workspace workspace = new Workspace();
        final long startNanos = System.nanoTime();
        final double elapsedBefore;
        final long startStep;
        long tokensHere;
        double lastLr, lastGradNorm;
        MetricsLog log;

        Run(TaskModel model, Dataset train, Dataset dev, boolean devEval, AdamW optimizer, Map<String, Tensor> params,
            TrainerState state, long totalSteps, Path checkpoint, Path kept) {
            this.model = model;
            this.train = train;
            this.dev = dev;
            this.devEval = devEval;
            this.optimizer = optimizer;
            this.params = params;
            this.state = state;
            this.totalSteps = totalSteps;
            this.checkpoint = checkpoint;
            this.kept = kept;
            this.elapsedBefore = state.elapsedSeconds;
            this.startStep = state.step;
        }

        double secondsHere() { return (System.nanoTime() - startNanos) / 1e9; }

        void train() throws IOException {
            while (!state.finished) {
                List<List<Example>> order = source.trainOrder(train, config.seed(), state.epoch);
                model.trainMode(true);
                while (state.batchInEpoch < order.size() && state.step < totalSteps) {
                    int from = state.batchInEpoch, to = Math.min(order.size(), from + config.gradAccumulation());
                    List<Batch> micro = new ArrayList<>(to - from);
                    for (int b = from; b < to; b++) micro.add(source.batch(train, order.get(b)));
                    step(micro);
                    state.batchInEpoch = to;
                    state.forwards += to - from;
                    boolean endsSegment = to == order.size() || state.step == totalSteps;
                    if (config.checkpointEvery() > 0 && state.step % config.checkpointEvery() == 0 && !endsSegment) writeCheckpoint();
                }
                endOfEpoch(state.batchInEpoch >= order.size());
            }
            model.trainMode(false);
        }

        void step(List<Batch> micro) throws IOException {
            double lr = optimizer.currentLr(0);
            double loss = accumulate(model, micro, config.seed(), state.step, workspace);
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("the training loss became " + loss + " at step " + (state.step + 1)
                        + " (epoch " + (state.epoch + 1) + ", lr " + lr + "); lower the learning rate or check the data");
            }
            memory.sample();
            double gradNorm = GradClip.clipGlobalNorm(params.values(), config.maxGradNorm() > 0 ? config.maxGradNorm() : Double.MAX_VALUE);
            if (!Double.isFinite(gradNorm)) {
                throw new IllegalStateException("the gradient norm became " + gradNorm + " at step " + (state.step + 1)
                        + " (lr " + lr + "); lower the learning rate");
            }
            optimizer.step();
            optimizer.zeroGrad();
            state.step++;
            long tokens = 0;
            for (Batch b : micro) tokens += b.tokens();
            state.tokens += tokens;
            tokensHere += tokens;
            state.pendingLossSum += loss;
            state.pendingLossSteps++;
            lastLr = lr;
            lastGradNorm = gradNorm;
            if (state.step % config.logEvery() == 0) logTrain();
            double seconds = Math.max(1e-9, secondsHere());
            double eta = seconds / (state.step - startStep) * (totalSteps - state.step);
            listener.stepDone(new ProgressListener.Step(state.step, totalSteps, state.epoch + 1, config.epochs(), loss, lr,
                    gradNorm, tokensHere, tokensHere / seconds, eta));
        }

        /** Logs the mean loss of the steps since the last line, with the latest step's learning rate and norm. */
        void logTrain() throws IOException {
            ObjectNode line = MetricsLog.line("train");
            line.put("step", state.step);
            line.put("epoch", state.epoch + 1);
            line.put("loss", state.pendingLossSum / state.pendingLossSteps);
            line.put("lr", lastLr);
            line.put("grad_norm", lastGradNorm);
            line.put("tokens", state.tokens);
            line.put("elapsed_seconds", elapsedBefore + secondsHere());
            log.append(line);
            state.pendingLossSum = 0;
            state.pendingLossSteps = 0;
        }

        void endOfEpoch(boolean epochDone) throws IOException {
            int epochNumber = state.epoch + 1;
            if (epochDone) {
                state.epoch++;
                state.batchInEpoch = 0;
            }
            if (state.pendingLossSteps > 0) logTrain();
            if (devEval) {
                Map<String, Double> metrics = Evaluator.evaluate(model, dev, source, workspace);
                String metric = Metrics.primary(model.task());
                boolean improved = Metrics.improves(metric, metrics.get(metric), state.bestMetric);
                if (improved) {
                    state.bestMetric = metrics.get(metric);
                    state.bestDev = new LinkedHashMap<>(metrics);
                    state.evalsWithoutImprovement = 0;
                    keep(epochNumber);
                } else {
                    state.evalsWithoutImprovement++;
                    if (config.earlyStoppingPatience() > 0 && state.evalsWithoutImprovement >= config.earlyStoppingPatience()) {
                        state.stoppedEarly = true;
                    }
                }
                logEval("dev", metrics, improved);
            } else {
                keep(epochNumber);
            }
            if (state.stoppedEarly || state.epoch >= config.epochs() || state.step >= totalSteps) state.finished = true;
            writeCheckpoint();
        }

        /** Saves the current adapter and head as the kept ones. */
        void keep(int epochNumber) throws IOException {
            state.bestEpoch = epochNumber;
            state.bestStep = state.step;
            ObjectNode info = JSON.createObjectNode();
            info.put("epoch", epochNumber);
            info.put("step", state.step);
            ObjectNode m = info.putObject("metrics");
            state.bestDev.forEach((k, v) -> putMetric(m, k, v));
            model.save(kept, dir -> AtomicFiles.writeString(dir.resolve(DEV_METRICS), pretty(info)));
        }

        void logEval(String split, Map<String, Double> metrics, boolean improved) throws IOException {
            ObjectNode line = MetricsLog.line("eval");
            line.put("split", split);
            line.put("epoch", state.epoch);
            line.put("step", state.step);
            metrics.forEach((k, v) -> putMetric(line, k, v));
            if (split.equals("dev")) line.put("improved", improved);
            log.append(line);
            listener.evaluated(new ProgressListener.Evaluation(split, state.epoch, state.step, metrics, improved));
        }

        void writeCheckpoint() throws IOException {
            state.logPosition = log.position();
            state.elapsedSeconds = elapsedBefore + secondsHere();
            String stateJson = pretty(state.toJson(config));
            OptimizerState os = optimizer.exportState();
            AtomicFolder.write(checkpoint, dir -> {
                model.writeFiles(dir.resolve(MODEL_DIR));
                Safetensors.write(dir.resolve(OPTIMIZER_FILE), os.tensors(), Map.of("step", Long.toString(os.step())));
                AtomicFiles.writeString(dir.resolve(STATE_FILE), stateJson);
            });
            listener.checkpointed(checkpoint, state.step);
        }

        TrainingResult finish(Dataset test) throws IOException {
            if (state.bestEpoch >= 0) model.restore(kept);
            Map<String, Double> testMetrics = new LinkedHashMap<>();
            if (test != null && test.size() > 0) {
                testMetrics = Evaluator.evaluate(model, test, source, workspace);
                logEval("test", testMetrics, false);
            }
            double wall = elapsedBefore + secondsHere();
            long peak = memory.peakBytes();
            String metric = Metrics.primary(model.task());
            TrainingResult result = new TrainingResult(metric, devEval ? state.bestMetric : Double.NaN, state.bestEpoch,
                    devEval ? state.bestDev : Map.of(), testMetrics, model.trainableParameterCount(), model.totalParameterCount(),
                    state.step, state.epoch, state.stoppedEarly, wall, peak, kept, outputDir.resolve(METRICS_JSON));
            AtomicFiles.writeString(result.metricsFile(), pretty(metricsJson(result, model, train, dev, test)));
            return result;
        }
    }

    /**
     * Runs forward and backward over the micro-batches of one optimizer step, leaving the summed
     * gradients on the parameters, and returns the step's loss. Each micro-batch's mean loss is weighted
     * by its share of the step's targets (examples, or predicted tokens for causal LM), so the gradient
     * is that of the mean over the whole step, exactly as one batch of all its examples would give.
     * Dropout in micro-batch i of step s draws from a generator seeded by (seed, s, i).
     */
    static double accumulate(TaskModel model, List<Batch> micro, long seed, long step, Workspace workspace) {
        long[] counts = new long[micro.size()];
        long total = 0;
        for (int i = 0; i < counts.length; i++) total += counts[i] = model.targetCount(micro.get(i));
        double loss = 0;
        for (int i = 0; i < counts.length; i++) {
            // After backward only the parameters' gradients (never workspace arrays) are left of a micro-batch.
            try (Workspace.Scope scope = workspace.open()) {
                Tensor l = model.loss(micro.get(i), dropoutRng(seed, step, i));
                double weight = total == 0 ? 0 : (double) counts[i] / total;
                loss += weight * l.item();
                (weight == 1 ? l : Elementwise.scale(l, weight)).backward();
            }
        }
        Tensor regularization = model.regularization();
        if (regularization != null) regularization.backward();
        return loss;
    }

    /** The dropout generator of micro-batch {@code micro} of optimizer step {@code step}. */
    static RandomGenerator dropoutRng(long seed, long step, int micro) {
        return new SplittableRandom(mix(mix(seed, step), micro));
    }

    /** SplitMix64's finaliser over a combination of two values: unrelated streams for nearby inputs. */
    private static long mix(long a, long b) {
        long z = a + 0x9E3779B97F4A7C15L * (b + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * AdamW over two groups as Hugging Face's Trainer builds them: matrices with the configured weight
     * decay, and vectors and scalars (biases, norm weights, scaling factors) without.
     */
    private AdamW optimizer(Map<String, Tensor> params) {
        Map<String, Tensor> decay = new LinkedHashMap<>(), noDecay = new LinkedHashMap<>();
        params.forEach((n, t) -> (t.dim() >= 2 ? decay : noDecay).put(n, t));
        List<ParamGroup> groups = new ArrayList<>();
        if (!decay.isEmpty()) groups.add(new ParamGroup(decay, config.lr(), config.weightDecay()));
        if (!noDecay.isEmpty()) groups.add(new ParamGroup(noDecay, config.lr(), 0));
        return new AdamW(groups);
    }

    /** At most {@code n} examples (0: all), a random subset drawn from the seed, kept in the dataset's order. */
    private Dataset limit(Dataset d, int n) {
        if (n == 0 || n >= d.size()) return d;
        List<Integer> idx = new ArrayList<>(d.size());
        for (int i = 0; i < d.size(); i++) idx.add(i);
        Random random = new Random(config.seed());
        for (int i = idx.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            Integer t = idx.get(i);
            idx.set(i, idx.get(j));
            idx.set(j, t);
        }
        List<Integer> picked = new ArrayList<>(idx.subList(0, n));
        picked.sort(null);
        return d.subset(picked);
    }

    private TrainerState readState(Path checkpoint) throws IOException {
        Path file = checkpoint.resolve(STATE_FILE);
        JsonNode json;
        try {
            json = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        List<String> differences = config.differencesFrom(json.path("config"));
        if (!differences.isEmpty()) {
            throw new IOException(checkpoint + ": was written with other settings (" + String.join(", ", differences)
                    + "); resume with the same settings, or train afresh without resuming");
        }
        return TrainerState.fromJson(json);
    }

    /** Sets the optimizer's moments and step counts from the checkpoint (copied out of the mapped file before it closes). */
    private static void importOptimizer(AdamW optimizer, Path checkpoint, TrainerState state) throws IOException {
        Path file = checkpoint.resolve(OPTIMIZER_FILE);
        try (SafetensorsCheckpoint saved = SafetensorsCheckpoint.open(file)) {
            String step = saved.metadata().get("step");
            if (step == null || !step.equals(Long.toString(state.step))) {
                throw new IOException(file + ": optimizer step " + step + " does not match the trainer state's " + state.step);
            }
            try {
                optimizer.importState(new OptimizerState(state.step, saved.tensors()));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
        }
    }

    private ObjectNode metricsJson(TrainingResult r, TaskModel model, Dataset train, Dataset dev, Dataset test) {
        ObjectNode n = JSON.createObjectNode();
        n.put("task", model.task().name().toLowerCase(Locale.ROOT));
        n.put("dataset", train.name());
        if (model.adapterName() != null) n.put("adapter", model.adapterName());
        n.put("metric", r.metric());
        r.testMetrics().forEach((k, v) -> putMetric(n, k, v));
        n.put("trainable_parameters", r.trainableParameters());
        n.put("total_parameters", r.totalParameters());
        n.put("wall_seconds", r.wallSeconds());
        n.put("peak_rss_bytes", r.peakRssBytes());
        n.put("steps", r.steps());
        n.put("epochs_completed", r.epochsCompleted());
        n.put("stopped_early", r.stoppedEarly());
        n.put("best_epoch", r.bestEpoch());
        ObjectNode devNode = n.putObject("dev");
        r.devMetrics().forEach((k, v) -> putMetric(devNode, k, v));
        n.put("train_examples", train.size());
        n.put("dev_examples", dev == null ? 0 : dev.size());
        n.put("test_examples", test == null ? 0 : test.size());
        n.set("config", config.toJson());
        return n;
    }

    /** JSON has no NaN or infinity: such a value is written as null. */
    private static void putMetric(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v);
        else n.putNull(key);
    }

    private static String pretty(JsonNode n) throws IOException {
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n";
    }

    private static long ceilDiv(long a, long b) { return (a + b - 1) / b; }
}
