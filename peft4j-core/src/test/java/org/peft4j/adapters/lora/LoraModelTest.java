package org.peft4j.adapters.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.AtomicFiles;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Linear;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/** LoRA installed in the fixture models: sizes, no-op start, training, PEFT save → load, merging. */
class LoraModelTest {
    private static final List<String> ARCHS = List.of("bert", "roberta", "gpt2", "llama", "qwen2");

    private static PretrainedModel load(String arch) throws IOException {
        return ModelLoader.load(Fixtures.dir("hf").resolve(arch).resolve("base"));
    }

    private static Map<String, Tensor> inputs(String arch) throws IOException {
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(Fixtures.dir("hf").resolve(arch).resolve("inputs.safetensors"))) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            ck.tensors().forEach((k, v) -> out.put(k, v.detachedCopy(v.dtype())));
            return out;
        }
    }

    /**
     * Whole-model outputs compared across separate forwards: the engine's float32 kernels may round the
     * last bit differently before and after the JIT compiles them, so "identical" allows that much.
     */
    private static void assertAlmostIdentical(float[] want, float[] got, String what) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num = Math.max(num, Math.abs(want[i] - got[i]));
            den = Math.max(den, Math.abs(want[i]));
        }
        assertTrue(num <= 1e-6 * den, what + ": relative difference " + num / den);
    }

    private static float[] run(PeftModel model, Map<String, Tensor> in) {
        try (var g = GradMode.noGrad()) {
            return LoraFixtures.forward(model, in).toFloatArray();
        }
    }

    /** Gives every adapter tensor (and trained bias) of {@code name} non-trivial values. */
    private static void randomise(PeftModel model, String name, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Tensor t : model.adapterParameters(name).values()) {
            for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) * (1 + 0.2 * r.nextDouble(-1, 1)) + 0.05 * r.nextDouble(-1, 1));
        }
    }

    @Test
    void parameterShapesMatchTheInstalledTensors() throws IOException {
        for (String arch : ARCHS) {
            for (String spec : List.of("lora", "dora[r=3,bias=lora_only]", "lora[target_modules=all-linear,bias=all,rank_pattern={\"v_proj\":2}]",
                    "lora[layers_to_transform=1,target_modules=dense|c_proj|o_proj]")) {
                try (PretrainedModel pm = load(arch)) {
                    PeftModel model = new PeftModel(pm.model(), pm.config());
                    model.addAdapter("x", spec, 1);
                    Map<String, int[]> want = LoraFixtures.METHOD.parameterShapes(model.shape(), "x", model.adapter("x").configs().get(0));
                    Map<String, Tensor> got = model.adapterParameters("x");
                    assertEquals(want.keySet(), got.keySet(), arch + " " + spec);
                    want.forEach((n, s) -> assertArrayEquals(s, got.get(n).shape(), n));
                }
            }
        }
        for (String arch : List.of("bert", "llama")) {
            try (PretrainedModel pm = load(arch)) {
                PeftModel model = new PeftModel(pm.model(), pm.config());
                model.addAdapter("g", "lora[selfattn_lora=true,intermediate_lora=true,use_gating=true]", 1);
                Map<String, int[]> want = LoraFixtures.METHOD.parameterShapes(model.shape(), "g", model.adapter("g").configs().get(0));
                assertEquals(want.keySet(), model.adapterParameters("g").keySet(), arch + " gated");
            }
        }
    }

    @Test
    void freshAdaptersLeaveEveryModelsOutputUnchanged() throws IOException {
        for (String arch : ARCHS) {
            try (PretrainedModel pm = load(arch)) {
                PeftModel model = new PeftModel(pm.model(), pm.config());
                Map<String, Tensor> in = inputs(arch);
                float[] base = run(model, in);
                model.addAdapter("l", "lora[r=4,lora_dropout=0.1]", 3);
                model.setActive("l");
                assertAlmostIdentical(base, run(model, in), arch + " lora");
                model.addAdapter("d", "dora[r=2]", 4);
                model.setActive("d");
                float[] dora = run(model, in);
                assertAlmostIdentical(base, dora, arch + " dora");
                model.deactivate();
                assertAlmostIdentical(base, run(model, in), arch + " deactivated");
            }
        }
    }

    @Test
    void trainingOnlyTouchesTheAdaptersTensorsAndLowersTheLoss(@TempDir Path dir) throws IOException {
        try (PretrainedModel pm = load("bert")) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = inputs("bert");
            model.addAdapter("other", "lora[r=2]", 1);
            model.addAdapter("t", "lora[r=4,target_modules=query|value|dense,bias=lora_only]", 2);
            model.setActive("t");
            model.train("t");
            model.trainMode(true);
            List<Tensor> trainable = model.trainableParameters();
            assertEquals(model.adapter("t").parameterNames().size(), trainable.size());
            double first = 0, last = 0;
            for (int step = 0; step < 5; step++) {
                for (Tensor t : trainable) t.zeroGrad();
                Tensor loss = LoraFixtures.loss(pm.config(), LoraFixtures.forward(model, in), in);
                loss.backward();
                for (Tensor t : trainable) if (t.grad() != null) Elementwise.axpyInPlace(t, -0.5, t.grad());
                if (step == 0) first = loss.item();
                last = loss.item();
            }
            assertTrue(last < first, "loss " + first + " -> " + last);
            for (Tensor t : model.adapterParameters("other").values()) assertFalse(t.requiresGrad());
            model.trainMode(false);
            float[] trained = run(model, in);
            save(model, "t", dir);
            try (PretrainedModel fresh = load("bert")) {
                PeftModel reloaded = new PeftModel(fresh.model(), fresh.config());
                LoraFixtures.loadPeft(reloaded, dir, "t");
                reloaded.setActive("t");
                assertAlmostIdentical(trained, run(reloaded, in), "reloaded");
            }
        }
    }

    /** Writes adapter {@code name} as a PEFT folder with the method's own config and key names. */
    private static void save(PeftModel model, String name, Path dir) throws IOException {
        LoraMethod m = LoraFixtures.METHOD;
        String config = LoraFixtures.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m.toPeftConfig(model.adapter(name).configs().get(0)));
        AtomicFiles.writeString(dir.resolve("adapter_config.json"), config);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.adapterParameters(name).forEach((tree, t) -> tensors.put(m.peftKey(tree, name), t));
        Safetensors.write(dir.resolve("adapter_model.safetensors"), tensors);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = ';', value = {
        "bert; dora[r=3,bias=lora_only,use_rslora=true]",
        "gpt2; lora[r=4,target_modules=c_attn|c_fc]",
        "llama; lora[r=4,target_modules=q_proj|v_proj|down_proj,rank_pattern={\"down_proj\":2},alpha_pattern={\"q_proj\":3}]",
        "qwen2; dora[r=2,target_modules=all-linear,bias=all]"})
    void savedPeftFolderReloadsToIdenticalOutputs(String arch, String spec, @TempDir Path dir) throws IOException {
        float[] before;
        Map<String, Tensor> in = inputs(arch);
        try (PretrainedModel pm = load(arch)) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.addAdapter("mine", spec, 9);
            randomise(model, "mine", 5);
            model.setActive("mine");
            before = run(model, in);
            save(model, "mine", dir);
        }
        try (PretrainedModel pm = load(arch)) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            LoraFixtures.loadPeft(model, dir, "other_name");
            model.setActive("other_name");
            assertAlmostIdentical(before, run(model, in), arch + " reloaded");
        }
    }

    @Test
    void mergeUnmergeAndMergeAndUnload() throws IOException {
        for (String arch : List.of("bert", "gpt2", "llama")) {
            for (String spec : List.of("lora[r=4,bias=lora_only]", "dora[r=4]")) {
                try (PretrainedModel pm = load(arch)) {
                    PeftModel model = new PeftModel(pm.model(), pm.config());
                    Map<String, Tensor> in = inputs(arch);
                    model.addAdapter("m", spec, 2);
                    randomise(model, "m", 3);
                    model.setActive("m");
                    float[] adapted = run(model, in);
                    String path = LoraMerge.layers(model, "m").keySet().iterator().next();
                    AdaptedLinear layer = (AdaptedLinear) model.base().module(path);
                    Tensor original = layer.base().weight();
                    float[] originalValues = original.toFloatArray();

                    LoraMerge.merge(model, "m");
                    assertNotSame(original, layer.base().weight());
                    assertArrayEquals(originalValues, original.toFloatArray(), "the loaded weight is never written");
                    assertClose(adapted, run(model, in), arch + " " + spec + " merged");
                    LoraMerge.unmerge(model, "m");
                    assertSame(original, layer.base().weight());
                    assertClose(adapted, run(model, in), arch + " " + spec + " unmerged");

                    LoraMerge.mergeAndUnload(model, "m");
                    assertEquals(List.of(), model.adapterNames());
                    Object plain = model.base().module(path);
                    Class<?> want = arch.equals("gpt2") ? Conv1D.class : Linear.class;
                    assertEquals(want, plain.getClass());
                    assertFalse(plain instanceof AdaptedLinear);
                    assertTrue(model.namedParameters().keySet().stream().noneMatch(n -> n.contains("lora_")));
                    assertClose(adapted, run(model, in), arch + " " + spec + " unloaded");
                }
            }
        }
    }

    @Test
    void mergeAndUnloadKeepsOtherAdaptersOnTheSameLayer() throws IOException {
        try (PretrainedModel pm = load("bert")) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = inputs("bert");
            model.addAdapter("a", "lora[r=2]", 1);
            model.addAdapter("b", "lora[r=3]", 2);
            randomise(model, "a", 1);
            randomise(model, "b", 2);
            model.setActive("b");
            float[] bOnly = run(model, in);
            model.setActive("a");
            float[] aOnly = run(model, in);
            LoraMerge.mergeAndUnload(model, "a");
            assertEquals(List.of("b"), model.adapterNames());
            assertClose(aOnly, run(model, in), "a is in the weights");
            model.setActive("b");
            float[] both = run(model, in);
            assertFalse(java.util.Arrays.equals(bOnly, both), "b now runs on top of the merged a");
        }
    }

    @Test
    void deletingAnAdapterRestoresTheBaseModel() throws IOException {
        try (PretrainedModel pm = load("llama")) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = inputs("llama");
            float[] base = run(model, in);
            model.addAdapter("x", "dora[target_modules=all-linear]", 1);
            randomise(model, "x", 1);
            model.setActive("x");
            assertFalse(java.util.Arrays.equals(base, run(model, in)));
            model.deleteAdapter("x");
            assertTrue(model.namedParameters().keySet().stream().noneMatch(n -> n.contains("lora_")));
            assertAlmostIdentical(base, run(model, in), "after delete");
        }
    }

    private static void assertClose(float[] want, float[] got, String what) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num = Math.max(num, Math.abs(want[i] - got[i]));
            den = Math.max(den, Math.abs(want[i]));
        }
        assertTrue(num <= 1e-5 * den, what + ": relative error " + num / den);
    }
}
