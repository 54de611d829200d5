package org.peft4j.adapters.bitfit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;
import org.peft4j.testing.GradCheck;

/**
 * BitFit on the Hugging Face fixture models: a no-op until trained, the unfrozen biases' gradients equal
 * the reference base gradients, Llama's missing biases (error, or added and checked by finite
 * differences), training moves only biases, and uninstalling gives the base model back.
 */
class BitFitFixtureTest {
    private static final BitFitMethod BITFIT = (BitFitMethod) MethodRegistry.method("bitfit");

    private static Path arch(String arch) { return Fixtures.dir("hf").resolve(arch); }

    private static Map<String, Tensor> readAll(Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            c.tensors().forEach((n, t) -> out.put(n, t.detachedCopy(t.dtype())));
        }
        return out;
    }

    private static Tensor forward(PeftModel model, Map<String, Tensor> in) {
        Tensor ids = in.get("input_ids"), mask = in.get("attention_mask");
        return model.config().architecture().isDecoder() ? model.logits(ids, mask, null) : model.encode(ids, mask, null, null);
    }

    /** The fixtures' loss (as conformance computes it): masked weighted sum for encoders, causal-LM cross-entropy for decoders. */
    private static Tensor loss(ModelConfig c, Tensor output, Map<String, Tensor> in) {
        if (c.architecture().isDecoder()) return CrossEntropy.causalLm(output, in.get("labels"), -100);
        Tensor mask = in.get("attention_mask").to(DType.F32);
        int b = mask.size(0), t = mask.size(1);
        Tensor weighted = Elementwise.mul(Elementwise.mul(output, in.get("loss_weights")), mask.reshape(b, t, 1));
        return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
    }

    private static Tensor noGradForward(PeftModel model, Map<String, Tensor> in) {
        try (var s = GradMode.noGrad()) {
            return forward(model, in);
        }
    }

    private static void assertBitwiseEqual(Tensor want, Tensor got, String what) {
        assertArrayEquals(want.shape(), got.shape(), what);
        for (long i = 0, n = want.numel(); i < n; i++) {
            if (want.getFlat(i) != got.getFlat(i)) throw new AssertionError(what + ": element " + i + " " + got.getFlat(i) + " != " + want.getFlat(i));
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0, n = t.numel(); i < n; i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }

    private static double relError(Tensor got, Tensor want, double floor) {
        double num = 0, den = floor;
        for (long i = 0, n = want.numel(); i < n; i++) {
            num = Math.max(num, Math.abs(got.getFlat(i) - want.getFlat(i)));
            den = Math.max(den, Math.abs(want.getFlat(i)));
        }
        return den == 0 ? num : num / den;
    }

    @Test
    void isANoOpUntilTrained() throws IOException {
        String[][] cases = {{"bert", "bitfit"}, {"gpt2", "bitfit"}, {"qwen2", "bitfit"}, {"llama", "bitfit[add_missing=true]"}};
        for (String[] c : cases) {
            Map<String, Tensor> in = readAll(arch(c[0]).resolve("inputs.safetensors"));
            try (PretrainedModel pm = ModelLoader.load(arch(c[0]).resolve("base"))) {
                PeftModel model = new PeftModel(pm.model(), pm.config());
                Tensor base = noGradForward(model, in);
                model.addAdapter("bf", c[1], 0);
                model.setActive("bf");
                Tensor out = noGradForward(model, in);
                assertBitwiseEqual(base, out, c[0] + " output");
                Tensor expected = readAll(arch(c[0]).resolve("base/expected.safetensors")).get("output");
                assertTrue(relError(out, expected, 0) <= 1e-4, c[0] + " output vs fixture");
            }
        }
    }

    @Test
    void biasGradientsEqualTheFixtureBaseGradients() throws IOException {
        String[][] cases = {{"bert", "bitfit"}, {"gpt2", "bitfit"}, {"qwen2", "bitfit"}, {"bert", "bitfit[biases=query|LayerNorm]"}};
        for (String[] c : cases) {
            Map<String, Tensor> in = readAll(arch(c[0]).resolve("inputs.safetensors"));
            Map<String, Tensor> exp = readAll(arch(c[0]).resolve("base/expected.safetensors"));
            try (PretrainedModel pm = ModelLoader.load(arch(c[0]).resolve("base"))) {
                PeftModel model = new PeftModel(pm.model(), pm.config());
                model.addAdapter("bf", c[1], 0);
                model.setActive("bf");
                model.train("bf");
                Tensor loss = loss(model.config(), forward(model, in), in);
                assertTrue(relError(loss, exp.get("loss"), 0) <= 1e-4, c[0] + " loss");
                loss.backward();
                // gradients that are zero in exact arithmetic (BERT's key bias) are float32 noise in both engines
                double floor = 1e-5 * exp.entrySet().stream().filter(e -> e.getKey().startsWith("grad."))
                        .mapToDouble(e -> maxAbs(e.getValue())).max().orElseThrow();
                Map<String, Tensor> trained = model.adapterParameters("bf");
                for (Map.Entry<String, Tensor> p : trained.entrySet()) {
                    assertTrue(p.getKey().endsWith(".bias"), p.getKey());
                    Tensor want = exp.get("grad." + p.getKey());
                    Tensor got = p.getValue().grad();
                    if (want == null) {
                        assertTrue(got == null || maxAbs(got) == 0, p.getKey() + " should get no gradient");
                        continue;
                    }
                    assertNotNull(got, p.getKey());
                    double err = relError(got, want, floor);
                    assertTrue(err <= 1e-3, c[0] + " " + c[1] + ": gradient of " + p.getKey() + " rel err " + err);
                }
                for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
                    if (!trained.containsKey(p.getKey())) assertNull(p.getValue().grad(), "frozen " + p.getKey() + " got a gradient");
                }
                if (c[1].equals("bitfit")) {
                    long biases = exp.keySet().stream().filter(k -> k.startsWith("grad.") && k.endsWith(".bias")).count();
                    assertTrue(trained.size() >= biases, c[0] + ": every bias of the fixture trains");
                }
            }
        }
    }

    @Test
    void biasOfAnAdaptedLinearLayerIsFoundUnderItsBaseLayer() throws IOException {
        Map<String, Tensor> in = readAll(arch("bert").resolve("inputs.safetensors"));
        Map<String, Tensor> exp = readAll(arch("bert").resolve("base/expected.safetensors"));
        try (PretrainedModel pm = ModelLoader.load(arch("bert").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.adaptedLinear("encoder.layer.0.attention.self.value");
            model.addAdapter("bf", "bitfit[biases=value]", 0);
            assertEquals(List.of("encoder.layer.0.attention.self.value.base_layer.bias", "encoder.layer.1.attention.self.value.bias"),
                    model.adapter("bf").parameterNames());
            model.setActive("bf");
            model.train("bf");
            loss(model.config(), forward(model, in), in).backward();
            Tensor got = model.namedParameters().get("encoder.layer.0.attention.self.value.base_layer.bias").grad();
            assertTrue(relError(got, exp.get("grad.encoder.layer.0.attention.self.value.bias"), 0) <= 1e-3);
        }
    }

    @Test
    void llamaWithoutBiasesIsAnErrorNamingTheModel() throws IOException {
        try (PretrainedModel pm = ModelLoader.load(arch("llama").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> before = model.namedParameters();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.addAdapter("bf", "bitfit", 0));
            assertTrue(e.getMessage().contains("'llama' model") && e.getMessage().contains("has no bias parameters")
                    && e.getMessage().contains("add_missing=true"), e.getMessage());
            assertEquals(before, model.namedParameters());
            assertEquals(List.of(), model.adapterNames());
        }
        try (PretrainedModel pm = ModelLoader.load(arch("qwen2").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.addAdapter("bf", "bitfit[biases=o_proj]", 0));
            assertTrue(e.getMessage().contains("'o_proj'") && e.getMessage().contains("add_missing=true"), e.getMessage());
        }
    }

    @Test
    void addedLlamaBiasesAreZeroAndPassFiniteDifferences() throws IOException {
        Map<String, Tensor> in = readAll(arch("llama").resolve("inputs.safetensors"));
        ModelConfig config = ModelConfig.load(arch("llama").resolve("base"));
        Map<String, Tensor> weights = readAll(arch("llama").resolve("base/model.safetensors"));
        weights.replaceAll((n, t) -> t.detachedCopy(DType.F64));
        PeftModel model = new PeftModel(ModelLoader.build(config, weights, "llama in float64"), config);
        model.addAdapter("bf", "bitfit[add_missing=true]", 0);
        model.setActive("bf");
        model.train("bf");
        Map<String, Tensor> added = model.adapterParameters("bf");
        assertEquals(2 * 7, added.size());
        for (Map.Entry<String, Tensor> e : added.entrySet()) {
            assertEquals(DType.F64, e.getValue().dtype(), e.getKey());
            assertEquals(0.0, maxAbs(e.getValue()), e.getKey());
        }
        // one bias per kind of projection, spread over both layers; the gradient of a bias is the sum over
        // tokens of its layer's output gradient, which the central differences see directly
        Tensor q = added.get("model.layers.0.self_attn.q_proj.bias"), v = added.get("model.layers.1.self_attn.v_proj.bias");
        Tensor gate = added.get("model.layers.0.mlp.gate_proj.bias"), down = added.get("model.layers.1.mlp.down_proj.bias");
        List.of(q, v, gate, down).forEach(b -> {
            for (long i = 0; i < b.numel(); i++) b.setFlat(i, 0.01 * ((i * 7) % 11 - 5));
        });
        GradCheck.check("llama bitfit", x -> forward(model, in), q, v, gate, down);
    }

    @Test
    void adamWStepsChangeOnlyBiasesAndUninstallRestoresTheBase() throws IOException {
        Map<String, Tensor> in = readAll(arch("bert").resolve("inputs.safetensors"));
        try (PretrainedModel pm = ModelLoader.load(arch("bert").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Tensor base = noGradForward(model, in);
            Map<String, Tensor> originals = model.namedParameters();
            Map<String, float[]> values = new LinkedHashMap<>();
            originals.forEach((n, t) -> values.put(n, t.toFloatArray()));
            Tensor mapped = originals.get("encoder.layer.0.intermediate.dense.bias");
            assertTrue(mapped.segment().isReadOnly(), "the fixture's weights are memory-mapped read-only");

            model.addAdapter("bf", "bitfit", 0);
            model.setActive("bf");
            model.train("bf");
            Map<String, Tensor> trained = model.adapterParameters("bf");
            for (Tensor t : trained.values()) assertTrue(t.heapFloats() != null && t.requiresGrad());
            AdamW opt = new AdamW(List.of(new ParamGroup(trained, 1e-2, 0.0)));
            List<Double> losses = new ArrayList<>();
            for (int step = 0; step < 3; step++) {
                opt.zeroGrad();
                Tensor loss = loss(model.config(), forward(model, in), in);
                losses.add(loss.item());
                loss.backward();
                opt.step();
            }
            assertTrue(losses.get(2) < losses.get(0), "loss falls: " + losses);
            int moved = 0;
            for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
                boolean same = java.util.Arrays.equals(values.get(p.getKey()), p.getValue().toFloatArray());
                if (!trained.containsKey(p.getKey())) assertTrue(same, p.getKey() + " is not a bias yet changed");
                else if (p.getValue().grad() != null && !same) moved++;
            }
            assertEquals(trained.size() - 1, moved, "every bias but the pooler's (no gradient) moved");
            assertTrue(java.util.Arrays.equals(values.get("encoder.layer.0.intermediate.dense.bias"), mapped.toFloatArray()),
                    "the checkpoint's own bias is untouched; its trainable copy moved");

            BITFIT.uninstall(model, "bf");
            model.deleteAdapter("bf");
            Map<String, Tensor> restored = model.namedParameters();
            assertEquals(originals.keySet(), restored.keySet());
            originals.forEach((n, t) -> assertSame(t, restored.get(n), n));
            assertTrue(model.trainableParameters().isEmpty());
            assertBitwiseEqual(base, noGradForward(model, in), "output after uninstall");
        }
    }

    @Test
    void uninstallRemovesAddedBiases() throws IOException {
        Map<String, Tensor> in = readAll(arch("llama").resolve("inputs.safetensors"));
        try (PretrainedModel pm = ModelLoader.load(arch("llama").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> originals = model.namedParameters();
            model.addAdapter("bf", "bitfit[add_missing=true,biases=mlp]", 0);
            assertEquals(2 * 3, model.adapter("bf").parameterNames().size());
            model.adapterParameters("bf").values().forEach(b -> b.setFlat(0, 0.5));
            Tensor changed = noGradForward(model, in);
            BITFIT.uninstall(model, "bf");
            model.deleteAdapter("bf");
            assertEquals(originals, model.namedParameters());
            Tensor base = readAll(arch("llama").resolve("base/expected.safetensors")).get("output");
            assertTrue(relError(noGradForward(model, in), base, 0) <= 1e-4);
            assertTrue(relError(changed, base, 0) > 1e-3, "the trained biases had changed the output");
        }
    }

    @Test
    void twoAdaptersCannotShareABias() throws IOException {
        try (PretrainedModel pm = ModelLoader.load(arch("bert").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.addAdapter("a", "bitfit[biases=query]", 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.addAdapter("b", "bitfit", 0));
            assertTrue(e.getMessage().contains("already belongs to adapter 'a'"), e.getMessage());
            assertEquals(List.of("a"), model.adapterNames());
            model.addAdapter("b", "bitfit[biases=value]", 0);
            model.train("b");
            Module query = model.base().module("encoder.layer.0.attention.self.query");
            assertFalse(query.parameter("bias").requiresGrad());
            assertTrue(model.base().module("encoder.layer.0.attention.self.value").parameter("bias").requiresGrad());
        }
    }
}
