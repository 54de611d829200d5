package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.lora.LoraConfig;
import org.peft4j.adapters.prefix.PrefixGates;
import org.peft4j.adapters.prefix.PrefixTuning;
import org.peft4j.adapters.prefix.PrefixTuningConfig;
import org.peft4j.adapters.prefix.PrefixTuningMethod;
import org.peft4j.adapters.prefix.TinyModels;
import org.peft4j.autograd.GradMode;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/**
 * UniPELT (gated LoRA + gated prefix tuning + gated seq_bn) and the prefix gate on its own: the gates'
 * gradients by finite differences in float64 through whole tiny models, and the gate's meaning — each
 * example's prefix keys and values scaled by the sequence mean of sigmoid(W·x + b) over the attention input.
 */
class UniPeltTest {
    private static final Tensor IDS = Tensor.of(new long[] {1, 5, 7, 2, 9, 4}, 2, 3);
    private static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 0}, 2, 3);
    private static final String SMALL_UNIPELT = "lora[r=2,alpha=2,use_gating=true]|prefix_tuning[prefix_length=2,bottleneck_size=3,use_gating=true,"
            + "shared_gating=%s]|seq_bn[reduction_factor=2,use_gating=true]";

    private static Tensor forward(PeftModel m) {
        return m.config().architecture().isDecoder() ? m.logits(IDS, MASK, null) : m.encode(IDS, MASK, null, null);
    }

    /** Every adapter tensor as float64 with random values (so no gate or branch starts at a zero gradient). */
    private static Tensor[] randomF64(PeftModel m, String name, long seed) {
        Tensor[] params = Harness.adapterToF64(m, name);
        Random r = new Random(seed);
        for (Tensor t : params) for (long i = 0; i < t.numel(); i++) t.setFlat(i, 0.5 * r.nextGaussian());
        return params;
    }

    @Test
    void aliasIsTheGatedUnion() {
        List<MethodConfig> configs = MethodRegistry.parse("unipelt");
        assertEquals(3, configs.size());
        assertTrue(((LoraConfig) configs.get(0)).useGating());
        assertTrue(((PrefixTuningConfig) configs.get(1)).useGating());
        assertTrue(((BottleneckConfig) configs.get(2)).useGating());
    }

    @ParameterizedTest
    @CsvSource({"bert, 4, true", "llama, 2, false", "gpt2, 4, true"})
    void gradientsThroughEveryGate(String arch, int kvHeads, boolean shared) {
        PeftModel m = TinyModels.model(TinyModels.config(arch, kvHeads), DType.F64, 3);
        m.addAdapter("u", SMALL_UNIPELT.formatted(shared), 7);
        m.setActive("u");
        Tensor[] params = randomF64(m, "u", 11);
        List<String> names = List.copyOf(m.adapterParameters("u").keySet());
        assertTrue(names.stream().filter(n -> n.contains(".prefix_gates.")).count() == 4, names.toString());
        assertTrue(names.stream().anyMatch(n -> n.contains(".lora_gate.")), names.toString());
        assertTrue(names.stream().anyMatch(n -> n.contains(".gate.")), names.toString());
        GradCheck.check("unipelt on " + arch + (shared ? " (shared prefix gate)" : ""), in -> forward(m), params);
    }

    @ParameterizedTest
    @CsvSource({"bert, 4, true", "llama, 2, false", "gpt2, 4, false"})
    void prefixGateScalesKeysAndValues(String arch, int kvHeads, boolean shared) {
        var config = TinyModels.config(arch, kvHeads);
        PeftModel gated = TinyModels.model(config, DType.F64, 3);
        gated.addAdapter("g", "prefix_tuning_flat[prefix_length=3,use_gating=true,shared_gating=" + shared + "]", 7);
        gated.setActive("g");
        Tensor[] params = randomF64(gated, "g", 5);
        // A gate with zero weights gives every example the constant factor sigmoid(bias).
        double keyBias = 0.7, valueBias = -1.3;
        for (Map.Entry<String, Tensor> e : gated.adapterParameters("g").entrySet()) {
            if (!e.getKey().contains(".prefix_gates.")) continue;
            Tensor t = e.getValue();
            for (long i = 0; i < t.numel(); i++) t.setFlat(i, e.getKey().endsWith("weight") ? 0 : i == 0 ? keyBias : valueBias);
        }
        double keyFactor = sigmoid(keyBias), valueFactor = shared ? keyFactor : sigmoid(valueBias);

        PeftModel plain = TinyModels.model(config, DType.F64, 3);
        plain.addAdapter("p", "prefix_tuning_flat[prefix_length=3]", 7);
        plain.setActive("p");
        Tensor scaled = Harness.adapterToF64(plain, "p")[0];
        Tensor flat = params[0];
        assertArrayEquals(flat.shape(), scaled.shape());
        // the flat prefix is [P, L·2, kvHeads, headDim]: layer i's keys in slot 2i, values in slot 2i+1
        int slotWidth = kvHeads * config.headDim();
        int slots = 2 * config.numLayers();
        for (long i = 0; i < flat.numel(); i++) {
            long slot = (i / slotWidth) % slots;
            scaled.setFlat(i, flat.getFlat(i) * (slot % 2 == 0 ? keyFactor : valueFactor));
        }
        try (var s = GradMode.noGrad()) {
            Tensor a = forward(gated), b = forward(plain);
            assertTrue(Harness.maxAbsDiff(a, b) < 1e-12, arch + ": " + Harness.maxAbsDiff(a, b));
            gated.deactivate();
            assertTrue(Harness.maxAbsDiff(forward(gated), b) > 1e-6, "the prefix should matter");
        }
    }

    @Test
    void gateIsTheSequenceMeanOfASigmoidPerExample() {
        PrefixGates gates = new PrefixGates(2, 5, false, new java.util.SplittableRandom(1));
        Tensor x = GradCheck.randn(3, 2, 4, 5);
        Tensor keys = GradCheck.randn(4, 2, 3, 6, 2), values = GradCheck.randn(5, 2, 3, 6, 2);
        Tensor[] out = gates.apply(1, x, keys, values);
        Tensor w = gates.namedParameters().get("1.weight"), bias = gates.namedParameters().get("1.bias");
        for (int b = 0; b < 2; b++) {
            for (int o = 0; o < 2; o++) {
                double mean = 0;
                for (int t = 0; t < 4; t++) {
                    double z = bias.getFlat(o);
                    for (int h = 0; h < 5; h++) z += w.get(o, h) * x.get(b, t, h);
                    mean += sigmoid(z) / 4;
                }
                Tensor src = o == 0 ? keys : values, got = out[o];
                for (int h = 0; h < 3; h++) for (int p = 0; p < 6; p++) for (int d = 0; d < 2; d++) {
                    assertEquals(src.get(b, h, p, d) * mean, got.get(b, h, p, d), 1e-12);
                }
            }
        }
        GradCheck.check("prefix gate", in -> {
            Tensor[] kv = gates.apply(0, in[0], in[1], in[2]);
            return Elementwise.add(kv[0], Elementwise.scale(kv[1], 0.5));
        }, GradCheck.randn(6, 2, 4, 5), keys, values);
    }

    @Test
    void ejectKeepsTheGates() {
        PeftModel m = TinyModels.model(TinyModels.config("llama", 2), DType.F32, 3);
        m.addAdapter("u", SMALL_UNIPELT.formatted(false), 7);
        m.setActive("u");
        Random r = new Random(2);
        for (Tensor t : m.adapterParameters("u").values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, 0.5 * r.nextGaussian());
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = forward(m);
        }
        PrefixTuning.eject(m, "u");
        assertTrue(m.adapterParameters("u").keySet().stream().anyMatch(n -> n.contains(".prefix_gates.")));
        try (var s = GradMode.noGrad()) {
            assertTrue(Harness.maxAbsDiff(forward(m), before) < 1e-5, "eject changed the output of a gated prefix");
        }
    }

    @Test
    void adapterHubGateKeysMapIntoTheTree() {
        PrefixTuningMethod method = new PrefixTuningMethod();
        assertEquals("prefix_tuning.prefix_tunings.y.prefix_gates.1.weight",
                method.treeName("bert.encoder.layer.1.attention.self.prefix_tuning.prefix_gates.x.weight", "y"));
        assertEquals("prefix_tuning.prefix_tunings.y.prefix_gates.0.bias",
                method.treeName("transformer.h.0.attn.prefix_tuning.prefix_gates.x.bias", "y"));
        assertEquals("prefix_tuning.prefix_tunings.y.prefix_gates.3.weight",
                method.treeName("model.layers.3.self_attn.prefix_tuning.prefix_gates.x.weight", "y"));
    }

    private static double sigmoid(double z) { return 1 / (1 + Math.exp(-z)); }
}
