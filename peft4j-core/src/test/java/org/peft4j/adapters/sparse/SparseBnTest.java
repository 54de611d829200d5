package org.peft4j.adapters.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.AdapterSummary;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.prefix.TinyModels;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelConfig;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * {@code sparse_bn} on small random models: parsing, exact global kept counts for every scoring, the
 * fixed mask under AdamW, large_sparse sizes, trainable counts, no-op initialisation, SNIP, and compact
 * save → load round trips.
 */
class SparseBnTest {
    @TempDir
    Path tmp;

    /** A random two-layer model of {@code type} and width {@code hidden} (vocabulary 13, 4 heads). */
    static PeftModel model(String type, int hidden) {
        String extra = switch (type) {
            case "gpt2" -> "\"n_positions\": 32, \"activation_function\": \"gelu_new\"";
            case "bert" -> "\"intermediate_size\": " + 2 * hidden + ", \"max_position_embeddings\": 32, \"type_vocab_size\": 2";
            default -> "\"intermediate_size\": " + 2 * hidden + ", \"max_position_embeddings\": 32, \"num_key_value_heads\": 2";
        };
        ModelConfig c = ModelConfig.parse("{\"model_type\": \"" + type + "\", \"hidden_size\": " + hidden + ", \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"vocab_size\": 13, " + extra + "}", "tiny-" + type);
        return TinyModels.model(c, DType.F32, 7);
    }

    static final Tensor IDS = Tensor.of(new long[] {1, 5, 2, 9, 3, 3, 12, 0, 4, 7, 8, 11}, 2, 6);
    static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2, 6);

    static Tensor forward(PeftModel m) {
        return m.config().architecture().isDecoder() ? m.logits(IDS, MASK, null) : m.encode(IDS, MASK, null, null);
    }

    static Tensor run(PeftModel m) {
        try (var s = GradMode.noGrad()) {
            return forward(m);
        }
    }

    static Tensor loss(PeftModel m) {
        Tensor y = forward(m);
        return Reductions.mean(Elementwise.mul(y, y));
    }

    static SparseBnConfig config(String spec) { return (SparseBnConfig) MethodRegistry.parse(spec).get(0); }

    // ------------------------------------------------------------------ config

    @Test
    void parsesTheStringAndJsonFormsAndRejectsBadFields() {
        SparseBnConfig c = config("sparse_bn[base=par_bn,density=0.2,sparsity_method=snip,large_sparse=true,top_k=0.25,reduction_factor=8]");
        assertEquals("par_bn", c.base().method());
        assertEquals(0.2, c.density());
        assertEquals(SparsityMethod.SNIP, c.sparsityMethod());
        assertTrue(c.largeSparse());
        assertEquals(new TopK(0, 0.25), c.topK());
        assertEquals(4.0, c.base().scaling().value(), "par_bn's defaults hold");
        assertEquals(c, new SparseBnMethod().fromJson(c.toJson()));
        assertEquals(c, config(c.toString()));
        SparseBnConfig d = config("sparse_bn");
        assertEquals("seq_bn", d.base().method());
        assertEquals(SparseBnConfig.DEFAULT_DENSITY, d.density());
        assertEquals(new TopK(8, 0), config("sparse_bn[top_k=8]").topK());
        assertEquals(d, new SparseBnMethod().fromJson(d.toJson()));
        for (String bad : List.of("sparse_bn[density=0]", "sparse_bn[density=1.5]", "sparse_bn[sparsity_method=grasp]",
                "sparse_bn[base=compacter]", "sparse_bn[top_k=0]", "sparse_bn[top_k=1.5]", "sparse_bn[phm_layer=true]")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("sparse_bn"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("sparse_bn[sparsity=0.5]"));
        assertTrue(e.getMessage().contains("density") && e.getMessage().contains("top_k"), e.getMessage());
    }

    // ------------------------------------------------------------------ pruning

    @ParameterizedTest
    @ValueSource(strings = {"random", "magnitude"})
    void keepsExactlyRoundDensityTimesNWeightsAcrossTheWholeAdapter(String method) {
        PeftModel m = model("bert", 16);
        m.addAdapter("a", "sparse_bn[base=double_seq_bn,reduction_factor=2,density=0.3,sparsity_method=" + method + "]", 3);
        long dense = SparseAdapters.denseWeights(m, "a");
        assertEquals(2 * 2 * 2 * 16 * 8, dense, "2 layers x 2 sites x 2 projections of 16x8");
        assertEquals(Math.round(0.3 * dense), SparseAdapters.keptWeights(m, "a"));
        long[] perMatrix = SparseAdapters.layers(m, "a").values().stream().mapToLong(l -> l.pattern().nnz()).toArray();
        assertTrue(Arrays.stream(perMatrix).distinct().count() > 1, "global pruning: matrices differ " + Arrays.toString(perMatrix));
    }

    @Test
    void magnitudeKeepsTheLargestInitialWeightsOfTheWholeAdapter() {
        PeftModel dense = model("llama", 16), sparse = model("llama", 16);
        dense.addAdapter("a", "sparse_bn[reduction_factor=4,density=1]", 5);
        sparse.addAdapter("a", "sparse_bn[reduction_factor=4,density=0.25,sparsity_method=magnitude]", 5);
        List<Double> kept = new ArrayList<>(), pruned = new ArrayList<>();
        var denseLayers = SparseAdapters.layers(dense, "a");
        SparseAdapters.layers(sparse, "a").forEach((path, l) -> {
            double[] initial = denseLayers.get(path).denseWeight().doubles();
            double[] now = l.denseWeight().doubles();
            boolean[] keep = new boolean[initial.length];
            for (int flat : l.pattern().flatIndices()) keep[flat] = true;
            for (int i = 0; i < initial.length; i++) {
                if (keep[i]) {
                    assertEquals(initial[i], now[i], "kept weights keep their initial value");
                    kept.add(Math.abs(initial[i]));
                } else {
                    assertEquals(0.0, now[i]);
                    pruned.add(Math.abs(initial[i]));
                }
            }
        });
        assertTrue(kept.stream().mapToDouble(d -> d).min().orElseThrow() >= pruned.stream().mapToDouble(d -> d).max().orElseThrow());
    }

    @Test
    void largeSparseWidensTheBottleneckToKeepTheDenseBudget() {
        PeftModel m = model("bert", 32);
        m.addAdapter("a", "sparse_bn[reduction_factor=4,density=0.25,large_sparse=true,sparsity_method=random]", 3);
        SparseLinear up = SparseAdapters.layers(m, "a").get("encoder.layer.0.output.adapters.a.adapter_up");
        assertEquals(32, up.inFeatures(), "m = 32 / 4 = 8, widened to 8 / 0.25");
        long denseBudget = 2L * 2 * 32 * 8;
        assertEquals(denseBudget, SparseAdapters.keptWeights(m, "a"));
        PeftModel r = model("bert", 32);
        r.addAdapter("a", "sparse_bn[reduction_factor=4,density=0.3,large_sparse=true,sparsity_method=random]", 3);
        assertEquals(27, SparseAdapters.layers(r, "a").get("encoder.layer.0.output.adapters.a.adapter_up").inFeatures(), "round(8 / 0.3)");
    }

    @Test
    void snipKeepsTheWeightsWithTheLargestWeightTimesGradient() {
        String spec = "sparse_bn[base=double_seq_bn,reduction_factor=2,density=0.2,sparsity_method=snip]";
        PeftModel m = model("gpt2", 16);
        m.addAdapter("a", spec, 9);
        m.addAdapter("ref", spec.replace("density=0.2", "density=1"), 9);
        m.setActive("ref");
        m.train("ref");
        loss(m).backward();
        loss(m).backward();
        List<Double> scores = new ArrayList<>();
        Map<String, double[]> refScores = new LinkedHashMap<>();
        SparseAdapters.layers(m, "ref").forEach((path, l) -> {
            double[] w = l.values().doubles(), g = l.values().grad().doubles(), s = new double[w.length];
            for (int j = 0; j < w.length; j++) scores.add(s[j] = Math.abs(w[j] * g[j]));
            refScores.put(path.replace(".ref.", ".a."), s);
        });
        for (Tensor t : m.namedParameters().values()) t.zeroGrad();
        m.train();
        m.setActive("a");
        assertEquals(SparseAdapters.denseWeights(m, "a"), SparseAdapters.keptWeights(m, "a"), "not pruned before SNIP");
        Tensor before = run(m);
        List<Supplier<Tensor>> batches = List.of(() -> loss(m), () -> loss(m));
        SparseAdapters.snip(m, "a", batches);
        long keep = Math.round(0.2 * SparseAdapters.denseWeights(m, "a"));
        assertEquals(keep, SparseAdapters.keptWeights(m, "a"));
        double threshold = scores.stream().sorted((x, y) -> Double.compare(y, x)).skip(keep - 1).findFirst().orElseThrow();
        SparseAdapters.layers(m, "a").forEach((path, l) -> {
            double[] s = refScores.get(path);
            boolean[] kept = new boolean[s.length];
            for (int flat : l.pattern().flatIndices()) kept[flat] = true;
            for (int i = 0; i < s.length; i++) assertEquals(s[i] >= threshold, kept[i], path + " position " + i);
        });
        for (Tensor t : m.namedParameters().values()) {
            assertFalse(t.requiresGrad(), "trainable flags restored");
            assertEquals(null, t.grad(), "no gradient left behind");
        }
        assertNotEquals(before.floats()[0], run(m).floats()[0]);
    }

    @Test
    void snipNeedsLossesAndAnActiveAdapter() {
        PeftModel m = model("bert", 16);
        m.addAdapter("a", "sparse_bn[sparsity_method=snip,reduction_factor=2]", 1);
        assertThrows(IllegalArgumentException.class, () -> SparseAdapters.snip(m, "a", List.of()));
        m.addAdapter("b", "sparse_bn[reduction_factor=2]", 1);
        m.setActive("b");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparseAdapters.snip(m, "a", List.of(() -> loss(m))));
        assertTrue(e.getMessage().contains("activate"), e.getMessage());
    }

    // ------------------------------------------------------------------ training and forward

    @Test
    void prunedWeightsStayExactlyZeroUnderAdamW() {
        PeftModel m = model("bert", 16);
        m.addAdapter("a", "sparse_bn[reduction_factor=2,density=0.3,sparsity_method=random,top_k=4]", 3);
        m.setActive("a");
        m.train("a");
        Map<String, Tensor> before = new LinkedHashMap<>();
        SparseAdapters.layers(m, "a").forEach((p, l) -> before.put(p, l.denseWeight()));
        AdamW opt = new AdamW(List.of(new ParamGroup(m.adapterParameters("a"), 1e-2, 0.1)));
        for (int step = 0; step < 3; step++) {
            opt.zeroGrad();
            loss(m).backward();
            opt.step();
        }
        SparseAdapters.layers(m, "a").forEach((p, l) -> {
            double[] w0 = before.get(p).doubles(), w = l.denseWeight().doubles();
            boolean[] kept = new boolean[w.length];
            for (int flat : l.pattern().flatIndices()) kept[flat] = true;
            boolean changed = false;
            for (int i = 0; i < w.length; i++) {
                if (!kept[i]) assertEquals(0.0, w[i], p + " pruned position " + i);
                else changed |= w[i] != w0[i];
            }
            assertTrue(changed, p + ": kept weights train");
        });
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = ';', value = {"bert; sparse_bn[base=par_bn,density=0.3,sparsity_method=random]",
        "bert; sparse_bn[base=scaled_par_bn,mh_adapter=true,density=0.5,sparsity_method=random,top_k=2]",
        "llama; sparse_bn[base=seq_bn,init_weights=mam_adapter,density=0.2,sparsity_method=random,large_sparse=true]",
        "gpt2; sparse_bn[base=double_seq_bn,init_weights=mam_adapter,density=0.4,sparsity_method=magnitude]"})
    void zeroInitialisedUpProjectionGivesTheBaseOutputExactly(String arch, String spec) {
        PeftModel m = model(arch, 16);
        Tensor base = run(m);
        m.addAdapter("a", spec, 3);
        m.setActive("a");
        assertArrayEquals(base.floats(), run(m).floats(), spec);
    }

    @Test
    void theSparseAdapterComputesTheDenseAdapterWithPrunedWeightsZeroed() {
        PeftModel sparse = model("bert", 16), dense = model("bert", 16);
        sparse.addAdapter("a", "sparse_bn[reduction_factor=2,density=0.4,sparsity_method=random,non_linearity=gelu]", 3);
        dense.addAdapter("a", "seq_bn[reduction_factor=2,non_linearity=gelu]", 3);
        Map<String, Tensor> denseParams = dense.namedParameters();
        sparse.adapterParameters("a").forEach((name, t) -> {
            if (!name.endsWith(SparseLinear.VALUES)) dense.assign(name, t);
        });
        SparseAdapters.layers(sparse, "a").forEach((path, l) -> denseParams.get(path + ".weight").copyFrom(l.denseWeight()));
        sparse.setActive("a");
        dense.setActive("a");
        float[] want = run(dense).floats(), got = run(sparse).floats();
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5, "element " + i);
    }

    // ------------------------------------------------------------------ counts and files

    @ParameterizedTest
    @ValueSource(strings = {"sparse_bn[reduction_factor=2,density=0.3]",
        "sparse_bn[base=double_seq_bn,ln_before=true,ln_after=true,use_gating=true,scaling=channel,leave_out=1,density=0.1,sparsity_method=random]",
        "sparse_bn[base=scaled_par_bn,reduction_factor=4,density=0.35,large_sparse=true]"})
    void parameterShapesCountTheKeptWeightsOfTheInstalledAdapter(String spec) {
        PeftModel m = model("bert", 16);
        MethodConfig c = MethodRegistry.parse(spec).get(0);
        Map<String, int[]> predicted = new SparseBnMethod().parameterShapes(m.shape(), "a", c);
        m.addAdapter("a", spec, 3);
        Map<String, Tensor> installed = m.adapterParameters("a");
        assertEquals(new TreeMap<>(predicted).keySet(), new TreeMap<>(installed).keySet());
        long want = 0, got = 0, biases = 0;
        for (Map.Entry<String, int[]> e : predicted.entrySet()) {
            long n = Tensor.numel(e.getValue());
            want += n;
            if (!e.getKey().endsWith(SparseLinear.VALUES)) {
                assertArrayEquals(e.getValue(), installed.get(e.getKey()).shape(), e.getKey());
                biases += n;
            }
        }
        for (Tensor t : installed.values()) got += t.numel();
        assertEquals(want, got);
        SparseBnConfig sc = (SparseBnConfig) c;
        assertEquals(biases + Math.round(sc.density() * SparseAdapters.denseWeights(m, "a")), got);
        assertEquals(got, AdapterSummary.of(m.config(), spec).trainable());
    }

    @Test
    void saveLoadRoundTripGivesIdenticalOutputsAndTheFileShrinksWithDensity() throws IOException {
        Map<Double, Long> sizes = new TreeMap<>();
        for (double density : new double[] {0.1, 0.2, 0.5}) {
            PeftModel m = model("bert", 64);
            String spec = "sparse_bn[reduction_factor=2,density=" + density + ",sparsity_method=random,top_k=0.5]";
            m.addAdapter("a", spec, 3);
            m.setActive("a");
            m.train("a");
            AdamW opt = new AdamW(List.of(new ParamGroup(m.adapterParameters("a"), 1e-2, 0)));
            loss(m).backward();
            opt.step();
            Tensor want = run(m);
            Path dir = tmp.resolve("d" + density);
            AdapterFiles.save(m, "a", dir);
            sizes.put(density, Files.size(dir.resolve("adapter.safetensors")));
            PeftModel fresh = model("bert", 64);
            AdapterFiles.load(fresh, dir, "b");
            fresh.setActive("b");
            assertArrayEquals(want.floats(), run(fresh).floats(), "density " + density + ", loaded under another name");
            Map<String, SparseLinear> b = SparseAdapters.layers(fresh, "b");
            SparseAdapters.layers(m, "a").forEach((p, l) -> assertEquals(l.pattern(), b.get(p.replace(".a.", ".b.")).pattern(), p));
            try (SafetensorsCheckpoint f = SafetensorsCheckpoint.open(dir.resolve("adapter.safetensors"))) {
                Tensor pattern = f.tensors().get("encoder.layer.0.output.adapters.a.adapter_up."
                        + (density < 0.5 / 16 ? SparseBnMethod.INDICES : SparseBnMethod.MASK));
                assertTrue(pattern != null, f.tensors().keySet().toString());
                assertFalse(f.tensors().containsKey("encoder.layer.0.output.adapters.a.adapter_up.weight"));
            }
        }
        PeftModel m = model("bert", 64);
        m.addAdapter("a", "seq_bn[reduction_factor=2]", 3);
        AdapterFiles.save(m, "a", tmp.resolve("dense"));
        long dense = Files.size(tmp.resolve("dense").resolve("adapter.safetensors"));
        assertTrue(sizes.get(0.1) < sizes.get(0.2) && sizes.get(0.2) < sizes.get(0.5) && sizes.get(0.5) < dense, sizes + " vs dense " + dense);
        assertTrue(sizes.get(0.2) < 0.3 * dense, sizes + " vs dense " + dense);
    }

    @Test
    void indicesAreStoredWhenSmallerThanAMaskAndUnprunedSnipAdaptersAreNotSaved() throws IOException {
        PeftModel m = model("bert", 64);
        m.addAdapter("a", "sparse_bn[reduction_factor=2,density=0.01,sparsity_method=magnitude]", 3);
        m.setActive("a");
        Tensor want = run(m);
        AdapterFiles.save(m, "a", tmp.resolve("a"));
        try (SafetensorsCheckpoint f = SafetensorsCheckpoint.open(tmp.resolve("a").resolve("adapter.safetensors"))) {
            Tensor idx = f.tensors().get("encoder.layer.1.output.adapters.a.adapter_down.0." + SparseBnMethod.INDICES);
            assertEquals(DType.I32, idx.dtype());
        }
        PeftModel fresh = model("bert", 64);
        AdapterFiles.load(fresh, tmp.resolve("a"), null);
        fresh.setActive("a");
        assertArrayEquals(want.floats(), run(fresh).floats());

        m.addAdapter("s", "sparse_bn[reduction_factor=2,density=0.2,sparsity_method=snip]", 3);
        IOException e = assertThrows(IOException.class, () -> AdapterFiles.save(m, "s", tmp.resolve("s")));
        assertTrue(e.getMessage().contains("SparseAdapters.snip"), e.getMessage());
        m.setActive("s");
        SparseAdapters.snip(m, "s", List.of(() -> loss(m)));
        AdapterFiles.save(m, "s", tmp.resolve("s"));
        PeftModel again = model("bert", 64);
        AdapterFiles.load(again, tmp.resolve("s"), null);
        again.setActive("s");
        assertArrayEquals(run(m).floats(), run(again).floats());
    }

    @Test
    void sitesAndNamesAreThoseOfTheBase() {
        PeftModel m = model("llama", 16);
        m.addAdapter("a", "sparse_bn[base=double_seq_bn,reduction_factor=4]", 1);
        assertTrue(m.base().module("model.layers.1.attention_adapters") instanceof BottleneckSite);
        assertTrue(m.adapterParameters("a").containsKey("model.layers.0.output_adapters.a.adapter_up." + SparseLinear.VALUES));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.addAdapter("b", "sparse_bn[reduction_factor=4,top_k=5]", 1));
        assertTrue(e.getMessage().contains("top_k=5") && e.getMessage().contains("4"), e.getMessage());
        m.deleteAdapter("a");
        assertTrue(m.adapterNames().isEmpty());
    }
}
