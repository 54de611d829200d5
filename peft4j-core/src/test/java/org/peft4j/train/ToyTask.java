package org.peft4j.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.peft4j.adapters.PeftModel;
import org.peft4j.data.Batch;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;
import org.peft4j.data.Splits;
import org.peft4j.data.TaskType;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.Pooling;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/**
 * Tiny tasks over the fixture models without a tokenizer: an example's text is its token ids written
 * as numbers ("17 23 40"), which {@link IdSource} turns into padded batches ([CLS]=1 first, padding 0).
 * The classification task is separable: class "a" uses ids 10..13, class "b" ids 200..203, so their
 * mean-pooled states differ even through the fixture's random weights.
 */
final class ToyTask {
    static final int CLS = 1;
    static final List<String> LABELS = List.of("a", "b");

    private ToyTask() {}

    /** {@code n} examples of the two-class task, balanced, lengths 3..7, drawn from {@code seed}. */
    static Dataset classification(String name, int n, long seed) {
        Random r = new Random(seed);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String label = LABELS.get(i % 2);
            int base = label.equals("a") ? 10 : 200;
            out.add(Example.labeled(ids(r, base, 3 + r.nextInt(5)), label));
        }
        return new Dataset(name, TaskType.CLASSIFICATION, out, LABELS);
    }

    /** A regression task: the target is the share of "high" ids (200..203) among the tokens. */
    static Dataset regression(String name, int n, long seed) {
        Random r = new Random(seed);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 3 + r.nextInt(5), high = r.nextInt(len + 1);
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < len; k++) sb.append(k == 0 ? "" : " ").append(k < high ? 200 + r.nextInt(4) : 10 + r.nextInt(4));
            out.add(Example.valued(sb.toString(), (double) high / len));
        }
        return new Dataset(name, TaskType.REGRESSION, out, List.of());
    }

    /** Causal-LM text: prefixes of three counting sequences "s s+1 s+2 ..." (s = 5, 20 or 40), easy to memorise. */
    static Dataset causal(String name, int n, long seed) {
        Random r = new Random(seed);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int start = new int[] {5, 20, 40}[r.nextInt(3)], len = 4 + r.nextInt(6);
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < len; k++) sb.append(k == 0 ? "" : " ").append(start + k);
            out.add(Example.plain(sb.toString()));
        }
        return new Dataset(name, TaskType.CAUSAL_LM, out, List.of());
    }

    static Splits splits(Dataset train, Dataset dev, Dataset test) { return new Splits(train, dev, test); }

    private static String ids(Random r, int base, int len) {
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < len; k++) sb.append(k == 0 ? "" : " ").append(base + r.nextInt(4));
        return sb.toString();
    }

    static PretrainedModel bert() throws IOException { return ModelLoader.load(Fixtures.dir("hf").resolve("bert/base")); }

    static PretrainedModel gpt2() throws IOException { return ModelLoader.load(Fixtures.dir("hf").resolve("gpt2/base")); }

    /** A BERT-fixture classifier training adapter {@code spec} (null: head only) with head dropout {@code dropout}. */
    static TaskModel classifier(PretrainedModel pm, String spec, double dropout, long seed) {
        PeftModel model = new PeftModel(pm.model(), pm.config());
        String name = null;
        if (spec != null) {
            name = "task";
            model.addAdapter(name, spec, seed);
        }
        return TaskModel.create(model, name, TaskType.CLASSIFICATION, LABELS, Pooling.MEAN, dropout, seed);
    }

    /** Batches straight from the ids in the texts; training order shuffled from (seed, epoch). */
    static final class IdSource implements BatchSource {
        private final int batchSize;
        private final boolean cls;

        /** @param cls whether rows start with [CLS] (encoders) */
        IdSource(int batchSize, boolean cls) {
            this.batchSize = batchSize;
            this.cls = cls;
        }

        @Override
        public int batchSize() { return batchSize; }

        @Override
        public List<List<Example>> trainOrder(Dataset d, long seed, int epoch) {
            List<Example> shuffled = new ArrayList<>(d.examples());
            Random r = new Random(seed * 1000 + epoch);
            for (int i = shuffled.size() - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                Example t = shuffled.get(i);
                shuffled.set(i, shuffled.get(j));
                shuffled.set(j, t);
            }
            List<List<Example>> groups = new ArrayList<>();
            for (int s = 0; s < shuffled.size(); s += batchSize) groups.add(shuffled.subList(s, Math.min(shuffled.size(), s + batchSize)));
            return groups;
        }

        @Override
        public Batch batch(Dataset d, List<Example> examples) {
            int rows = examples.size(), len = 0;
            List<long[]> seqs = new ArrayList<>();
            for (Example e : examples) {
                String[] parts = e.text().split(" ");
                int off = cls ? 1 : 0;
                long[] ids = new long[parts.length + off];
                if (cls) ids[0] = CLS;
                for (int k = 0; k < parts.length; k++) ids[k + off] = Long.parseLong(parts[k]) % 512;
                seqs.add(ids);
                len = Math.max(len, ids.length);
            }
            long[] ids = new long[rows * len], mask = new long[rows * len], lm = new long[rows * len];
            for (int r = 0; r < rows; r++) {
                long[] s = seqs.get(r);
                for (int t = 0; t < len; t++) {
                    boolean real = t < s.length;
                    ids[r * len + t] = real ? s[t] : 0;
                    mask[r * len + t] = real ? 1 : 0;
                    lm[r * len + t] = real ? s[t] : -100;
                }
            }
            Tensor labels = switch (d.task()) {
                case CLASSIFICATION -> {
                    long[] y = new long[rows];
                    for (int r = 0; r < rows; r++) y[r] = d.labelIndex(examples.get(r).label());
                    yield Tensor.of(y, rows);
                }
                case REGRESSION -> {
                    float[] y = new float[rows];
                    for (int r = 0; r < rows; r++) y[r] = (float) examples.get(r).value();
                    yield Tensor.of(y, rows);
                }
                case CAUSAL_LM -> Tensor.of(lm, rows, len);
            };
            return new Batch(Tensor.of(ids, rows, len), Tensor.of(mask, rows, len), Tensor.zeros(org.peft4j.tensor.DType.I64, rows, len),
                    labels, List.copyOf(examples));
        }
    }
}
