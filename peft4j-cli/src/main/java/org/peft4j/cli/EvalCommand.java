package org.peft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.peft4j.data.Dataset;
import org.peft4j.data.Datasets;
import org.peft4j.data.Splits;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.train.BatchSource;
import org.peft4j.train.Evaluator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j eval}: scores a trained adapter on labelled data. */
@Command(name = "eval", header = "Score a trained adapter on labelled data.",
        description = {"Prints the task's metrics: accuracy, macro_f1 and loss (classification), mse and pearson"
                + " (regression), perplexity and loss (causal LM).",
                "", "On the data the adapter was trained on, the default is its test part, the same split and"
                + " --eval-limit subset that train reported on; on other data, all of it."})
final class EvalCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Which examples of the data to score. */
    enum Part { TEST, DEV, TRAIN, ALL }

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", paramLabel = "MODEL", description = "The base model (default: the one the adapter's run recorded).")
    String model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "A run folder of train or fuse, or an adapter folder.")
    Path adapter;

    @Option(names = "--data", paramLabel = "DATA", description = "A .jsonl/.csv file or builtin:… (default: the data the adapter was trained on).")
    String data;

    @Option(names = "--split", paramLabel = "PART", description = "test, dev, train or all (default: test on the training data, else all).")
    String split;

    @Option(names = "--eval-limit", paramLabel = "N", description = "Score at most N examples, the seeded subset train uses (default: all).")
    Integer evalLimit;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the --eval-limit subset (default: the run's training seed).")
    Long seed;

    @Option(names = "--max-length", paramLabel = "N", description = "Tokens per example (default: what the adapter was trained with).")
    Integer maxLength;

    @Option(names = "--batch-size", paramLabel = "N", description = "Examples per batch (default: ${DEFAULT-VALUE}).")
    int batchSize = AdapterSession.DEFAULT_BATCH_SIZE;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Storage of the frozen weights: auto, f32 or bf16 (default: auto).")
    String dtype = "auto";

    @Option(names = "--json", description = "Print one JSON object with the data, the part scored and the metrics.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        AdapterFolder folder = AdapterFolder.find(adapter);
        RunInfo info = folder.info();
        String dataSpec = data != null ? data : info != null ? info.data() : null;
        if (dataSpec == null) throw new IllegalArgumentException(adapter + " does not record its training data; give --data");
        Part part = split != null ? parsePart(split) : info != null && info.sameData(dataSpec) ? Part.TEST : Part.ALL;
        long splitSeed = info != null ? info.splitSeed() : BudgetOptions.DEFAULT_SPLIT_SEED;
        long subsetSeed = seed != null ? seed : info != null ? info.seed() : BudgetOptions.DEFAULT_SPLIT_SEED;
        var log = json ? main.err : main.out;

        Dataset all = Datasets.load(dataSpec);
        Dataset scored = switch (part) {
            case ALL -> all;
            case TEST, DEV, TRAIN -> pick(Datasets.split(all, TrainJob.DEV_FRACTION, TrainJob.TEST_FRACTION, splitSeed), part);
        };
        if (evalLimit != null) scored = sample(scored, evalLimit, subsetSeed);
        try (AdapterSession s = AdapterSession.open(model, adapter, maxLength, batchSize, WeightStorage.parse(dtype), log)) {
            log.printf(Locale.ROOT, "scoring  %s, %s: %,d examples...%n", dataSpec, describe(part, splitSeed), scored.size());
            Map<String, Double> metrics = Evaluator.evaluate(s.task(), scored, BatchSource.of(s.batcher()));
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("data", dataSpec);
                n.put("split", part.name().toLowerCase(Locale.ROOT));
                n.put("examples", scored.size());
                ObjectNode m = n.putObject("metrics");
                metrics.forEach((k, v) -> { if (Double.isFinite(v)) m.put(k, v); else m.putNull(k); });
                main.out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n));
            } else {
                metrics.forEach((k, v) -> main.out.printf(Locale.ROOT, "%-10s %.4f%n", k, v));
            }
        }
        return 0;
    }

    static Part parsePart(String name) {
        try {
            return Part.valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown --split '" + name + "'; valid: test, dev, train, all");
        }
    }

    private static Dataset pick(Splits s, Part part) {
        return switch (part) {
            case TEST -> s.test();
            case DEV -> s.dev();
            default -> s.train();
        };
    }

    private static String describe(Part part, long splitSeed) {
        return part == Part.ALL ? "all of it" : part.name().toLowerCase(Locale.ROOT) + " part of the split with seed " + splitSeed;
    }

    /**
     * At most {@code n} examples of {@code d}: the same seeded subset the trainer draws for its
     * {@code evalLimit} (a Fisher-Yates shuffle of the indices by {@code java.util.Random(seed)}, the
     * first {@code n} taken, in the dataset's order), so that eval reproduces the numbers train reported.
     */
    static Dataset sample(Dataset d, int n, long seed) {
        if (n < 0) throw new IllegalArgumentException("--eval-limit must be >= 0, got " + n);
        if (n == 0 || n >= d.size()) return d;
        List<Integer> idx = new ArrayList<>(d.size());
        for (int i = 0; i < d.size(); i++) idx.add(i);
        Random random = new Random(seed);
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
}
