package org.peft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.sparse.SparseAdapters;
import org.peft4j.adapters.sparse.SparseLinear;
import org.peft4j.autograd.Autograd;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ParamSpec;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * What weight sparsity buys a bottleneck adapter: forward and forward+backward time of one adapter on a
 * MiniLM-sized activation (batch 16 × 128 tokens, hidden 384), and the size of its saved file, for the
 * dense {@code seq_bn} and for {@code sparse_bn} at densities 1.0 / 0.5 / 0.2 / 0.1 (random pruning), at
 * reduction factor 16 (bottleneck 24) and 2 (bottleneck 192, where the projections dominate), plus top-k
 * activation sparsity. The backward computes the input gradient too, as when adapters below also train.
 */
public final class SparseAdapterBench {
    static final int BATCH = 16, TOKENS = 128, HIDDEN = 384;
    static final int[] REDUCTION_FACTORS = {16, 2};
    static final double[] DENSITIES = {1.0, 0.5, 0.2, 0.1};
    static final double WARMUP_S = 0.3;
    static final int SAMPLES = 15;
    static final double SAMPLE_S = 0.03;

    private SparseAdapterBench() {}

    public static void main(String[] args) {
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--json") && i + 1 < args.length) json = Path.of(args[++i]);
            else throw new IllegalArgumentException("usage: SparseAdapterBench [--json FILE]");
        }
        System.exit(run(json, System.out));
    }

    /** One benchmarked adapter: its label and method specification. */
    record Case(int reductionFactor, String label, double density, String spec) {}

    /** A case installed on its own model, with its two timed workloads and how many calls make one sample of each. */
    record Subject(Case c, PeftModel model, BottleneckAdapter adapter, Runnable forward, Runnable forwardBackward, int[] calls) {}

    /**
     * Runs the benchmark, prints the table to {@code out} and, when {@code jsonOrNull} is given, writes
     * the rows there as JSON. Returns 0 on success, 1 when a file could not be written.
     */
    public static int run(Path jsonOrNull, PrintStream out) {
        out.printf("Bottleneck adapter on [%d x %d x %d] float32, %d thread(s); time: best of %d samples of ~%.0f ms, the cases'%n"
                + "samples taken in turn so they share the machine's load; fwd+bwd includes the input gradient;%n"
                + "file: the adapter's adapter.safetensors; vs dense: fwd+bwd time over the dense seq_bn's%n",
                BATCH, TOKENS, HIDDEN, Parallel.threads(), SAMPLES, SAMPLE_S * 1000);
        Tensor z = randomInput(), grad = randomGradient();
        List<Subject> subjects = new ArrayList<>();
        for (Case c : cases()) subjects.add(subject(c, z, grad));
        for (Subject s : subjects) {
            s.calls()[0] = warmUp(s.forward());
            s.calls()[1] = warmUp(s.forwardBackward());
        }
        double[][] best = new double[subjects.size()][];
        for (int i = 0; i < best.length; i++) best[i] = new double[] {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY};
        for (int sample = 0; sample < SAMPLES; sample++) {
            for (int i = 0; i < subjects.size(); i++) {
                Subject s = subjects.get(i);
                best[i][0] = Math.min(best[i][0], sample(s.forward(), s.calls()[0]));
                best[i][1] = Math.min(best[i][1], sample(s.forwardBackward(), s.calls()[1]));
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        Path dir = null;
        try {
            dir = Files.createTempDirectory("peft4j-sparse-bench");
            out.printf("%-3s %-22s %7s %9s %10s %12s %10s %9s%n", "rf", "adapter", "density", "weights", "fwd ms", "fwd+bwd ms",
                    "file KiB", "vs dense");
            double dense = Double.NaN;
            for (int i = 0; i < subjects.size(); i++) {
                Subject s = subjects.get(i);
                Case c = s.c();
                Path folder = dir.resolve(Integer.toString(i));
                AdapterFiles.save(s.model(), "a", folder);
                long bytes = Files.size(folder.resolve("adapter.safetensors"));
                double fwd = best[i][0], fwdBwd = best[i][1];
                if (c.spec().startsWith("seq_bn")) dense = fwdBwd;
                long weights = s.adapter().up() instanceof SparseLinear ? SparseAdapters.keptWeights(s.model(), "a")
                        : 2L * HIDDEN * ((Linear) s.adapter().up()).inFeatures();
                out.printf("%-3d %-22s %7.2f %9d %10.3f %12.3f %10.1f %8.2fx%n", c.reductionFactor(), c.label(), c.density(), weights,
                        fwd * 1e3, fwdBwd * 1e3, bytes / 1024.0, fwdBwd / dense);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("reduction_factor", c.reductionFactor());
                row.put("bottleneck", s.adapter().up() instanceof SparseLinear l ? l.inFeatures() : ((Linear) s.adapter().up()).inFeatures());
                row.put("adapter", c.label());
                row.put("spec", c.spec());
                row.put("density", c.density());
                row.put("weights", weights);
                row.put("threads", Parallel.threads());
                row.put("forward_ms", round(fwd * 1e3));
                row.put("forward_backward_ms", round(fwdBwd * 1e3));
                row.put("file_bytes", bytes);
                row.put("fwd_bwd_vs_dense", round(fwdBwd / dense));
                rows.add(row);
            }
        } catch (IOException e) {
            out.println("could not save an adapter: " + e.getMessage());
            return 1;
        } finally {
            if (dir != null) deleteTree(dir);
        }
        if (jsonOrNull != null) {
            try {
                Path parent = jsonOrNull.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(jsonOrNull.toFile(), rows);
                out.println("wrote " + jsonOrNull);
            } catch (IOException e) {
                out.println("could not write " + jsonOrNull + ": " + e.getMessage());
                return 1;
            }
        }
        return 0;
    }

    /** Per reduction factor: the dense seq_bn, sparse_bn at each density, and top-k activation sparsity at two densities. */
    static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (int rf : REDUCTION_FACTORS) {
            cases.add(new Case(rf, "seq_bn (dense)", 1.0, "seq_bn[reduction_factor=" + rf + "]"));
            for (double d : DENSITIES) {
                cases.add(new Case(rf, "sparse_bn", d, "sparse_bn[reduction_factor=" + rf + ",density=" + d + ",sparsity_method=random]"));
            }
            for (double d : new double[] {1.0, 0.2}) {
                cases.add(new Case(rf, "sparse_bn top_k=0.25", d,
                        "sparse_bn[reduction_factor=" + rf + ",density=" + d + ",sparsity_method=random,top_k=0.25]"));
            }
        }
        return cases;
    }

    /** Installs the case's adapter as "a" on a fresh model, trainable, and builds its forward and forward+backward calls. */
    private static Subject subject(Case c, Tensor z, Tensor grad) {
        PeftModel model = oneLayerModel();
        model.addAdapter("a", c.spec(), 1);
        model.train("a");
        BottleneckAdapter adapter = ((BottleneckSite) model.base().module("encoder.layer.0.output.adapters")).adapter("a");
        Runnable forward = () -> {
            try (var s = GradMode.noGrad()) {
                adapter.forward(z, z, null);
            }
        };
        Runnable forwardBackward = () -> {
            Autograd.backward(adapter.forward(z, z, null).hidden(), grad);
            adapter.zeroGrad();
            z.zeroGrad();
        };
        return new Subject(c, model, adapter, forward, forwardBackward, new int[2]);
    }

    /** A one-layer BERT of width 384 (MiniLM's) whose weights do not matter: only its adapter site is timed. */
    static PeftModel oneLayerModel() {
        ModelConfig c = ModelConfig.parse("{\"model_type\": \"bert\", \"hidden_size\": " + HIDDEN + ", \"num_hidden_layers\": 1,"
                + " \"num_attention_heads\": 12, \"intermediate_size\": " + 4 * HIDDEN + ", \"vocab_size\": 16,"
                + " \"max_position_embeddings\": " + TOKENS + ", \"type_vocab_size\": 2}", "bench-minilm-width");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (ParamSpec s : ModelLoader.specs(c)) tensors.put(s.name(), Tensor.zeros(s.shape()));
        return new PeftModel(ModelLoader.build(c, tensors, "bench"), c);
    }

    private static Tensor randomInput() {
        SplittableRandom r = new SplittableRandom(1);
        float[] v = new float[BATCH * TOKENS * HIDDEN];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, BATCH, TOKENS, HIDDEN).requiresGrad(true);
    }

    private static Tensor randomGradient() {
        SplittableRandom r = new SplittableRandom(2);
        float[] v = new float[BATCH * TOKENS * HIDDEN];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * 1e-3);
        return Tensor.of(v, BATCH, TOKENS, HIDDEN);
    }

    /** Runs {@code call} for the warm-up time; returns how many calls make one sample of about SAMPLE_S. */
    private static int warmUp(Runnable call) {
        long start = System.nanoTime(), end = start + (long) (WARMUP_S * 1e9);
        int calls = 0;
        while (System.nanoTime() < end || calls < 3) {
            call.run();
            calls++;
        }
        double perCall = (System.nanoTime() - start) / 1e9 / calls;
        return Math.max(1, (int) (SAMPLE_S / perCall));
    }

    /** Seconds per call over {@code calls} calls. */
    private static double sample(Runnable call, int calls) {
        long t0 = System.nanoTime();
        for (int i = 0; i < calls; i++) call.run();
        return (System.nanoTime() - t0) / 1e9 / calls;
    }

    private static double round(double v) { return Math.round(v * 1000) / 1000.0; }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
