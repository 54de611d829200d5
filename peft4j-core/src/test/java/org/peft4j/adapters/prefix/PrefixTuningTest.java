package org.peft4j.adapters.prefix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.ModelConfig;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;
import org.peft4j.testing.GradCheck;

/** Both prefix tuning flavours on small random models: gradients, eject, sizes, files and refused settings. */
class PrefixTuningTest {
    private static final Tensor IDS = Tensor.of(new long[] {1, 5, 7, 2, 9, 4}, 2, 3);
    private static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 0}, 2, 3);

    private static Tensor forward(PeftModel m) {
        return m.config().architecture().isDecoder() ? m.logits(IDS, MASK, null) : m.encode(IDS, MASK, null, null);
    }

    private static PeftModel tinyWith(String type, int kvHeads, DType dtype, String spec) {
        PeftModel m = TinyModels.model(TinyModels.config(type, kvHeads), dtype, 3);
        m.addAdapter("p", spec, 11);
        m.setActive("p");
        return m;
    }

    // ------------------------------------------------------------------ gradients (float64 finite differences)

    @Test
    void adapterHubMlpGradientsThroughGroupedQueryLlama() {
        PeftModel m = tinyWith("llama", 2, DType.F64, "prefix_tuning[prefix_length=2,bottleneck_size=3]");
        GradCheck.check("prefix_tuning MLP, llama 4 heads / 2 kv heads", in -> forward(m), TinyModels.toF64(m, "p"));
    }

    @Test
    void adapterHubFlatGradientsThroughBert() {
        PeftModel m = tinyWith("bert", 4, DType.F64, "prefix_tuning_flat[prefix_length=2]");
        GradCheck.check("prefix_tuning_flat, bert", in -> forward(m), TinyModels.toF64(m, "p"));
    }

    @Test
    void peftProjectionGradientsThroughGpt2() {
        PeftModel m = tinyWith("gpt2", 4, DType.F64, "prefix[num_virtual_tokens=2,prefix_projection=true,encoder_hidden_size=3]");
        GradCheck.check("PEFT prefix projection, gpt2", in -> forward(m), TinyModels.toF64(m, "p"));
    }

    @Test
    void prefixesHaveKeyValueHeads() {
        PeftModel m = tinyWith("llama", 2, DType.F32, "prefix_tuning[prefix_length=3,bottleneck_size=4]");
        PrefixTuning p = (PrefixTuning) m.extras().module(PrefixTuning.path("p"));
        Tensor[][] kv = p.prefix(5);
        assertEquals(2, kv[0].length);
        for (Tensor[] kind : kv) for (Tensor t : kind) assertArrayEquals(new int[] {5, 2, 3, 2}, t.shape());
        assertArrayEquals(new int[] {3, 2 * 2 * 2 * 2}, p.prefixMatrix().shape());
    }

    @Test
    void dropoutOnlyWhileTraining() {
        PeftModel m = tinyWith("llama", 2, DType.F32, "prefix_tuning[prefix_length=3,bottleneck_size=4,dropout=0.5]");
        PrefixTuning p = (PrefixTuning) m.extras().module(PrefixTuning.path("p"));
        Tensor eval = p.prefix(2)[0][0];
        assertEquals(eval.get(0, 1, 2, 1), eval.get(1, 1, 2, 1));
        m.trainMode(true);
        Tensor train = p.prefix(2)[0][0];
        boolean rowsDiffer = false;
        for (int h = 0; h < 2; h++) for (int j = 0; j < 3; j++) for (int d = 0; d < 2; d++) rowsDiffer |= train.get(0, h, j, d) != train.get(1, h, j, d);
        assertTrue(rowsDiffer, "each batch row draws its own dropout mask");
    }

    // ------------------------------------------------------------------ eject

    @Test
    void ejectKeepsTheOutputOfTheMlp() throws IOException {
        PeftModel m = tinyWith("llama", 2, DType.F32, "prefix_tuning[prefix_length=3,bottleneck_size=5]");
        m.train("p");
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = forward(m);
        }
        PrefixTuning.eject(m, "p");
        String flat = PrefixTuning.path("p") + ".control_trans";
        assertEquals(List.of(flat), m.adapter("p").parameterNames());
        assertArrayEquals(new int[] {3 * 2 * 2 * 4}, m.namedParameters().get(flat).shape());
        assertTrue(m.namedParameters().get(flat).requiresGrad());
        assertEquals("prefix_tuning_flat", m.adapter("p").configs().get(0).method());
        try (var s = GradMode.noGrad()) {
            assertTrue(AdapterFixture.relError(forward(m), before) < 1e-6, "eject changed the output");
        }
        assertThrows(IllegalArgumentException.class, () -> PrefixTuning.eject(m, "p"), "already flat");
    }

    @Test
    void ejectKeepsTheOtherMethodsOfAUnion() {
        PeftModel m = tinyWith("llama", 2, DType.F32, "prefix_tuning[prefix_length=2,bottleneck_size=3]|seq_bn[reduction_factor=2]");
        java.util.Random r = new java.util.Random(5);
        for (Tensor t : m.adapterParameters("p").values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, r.nextGaussian());
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = forward(m);
        }
        PrefixTuning.eject(m, "p");
        assertTrue(m.adapter("p").parameterNames().stream().anyMatch(n -> n.contains("adapter_down")), m.adapter("p").parameterNames().toString());
        try (var s = GradMode.noGrad()) {
            assertTrue(AdapterFixture.relError(forward(m), before) < 1e-6, "eject changed the output of the union");
        }
    }

    @Test
    void ejectOnAdapterHubFixture() throws IOException {
        Path dir = Fixtures.dir("adapterhub").resolve("bert").resolve("prefix_tuning");
        try (var pm = org.peft4j.models.ModelLoader.load(Fixtures.dir("hf").resolve("bert").resolve("base"));
             var in = org.peft4j.io.safetensors.SafetensorsCheckpoint.open(Fixtures.dir("hf").resolve("bert").resolve("inputs.safetensors"));
             var exp = org.peft4j.io.safetensors.SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"));
             var s = GradMode.noGrad()) {
            PeftModel m = new PeftModel(pm.model(), pm.config());
            String name = AdapterFiles.load(m, dir, null).name();
            m.setActive(name);
            PrefixTuning.eject(m, name);
            assertTrue(AdapterFixture.relError(AdapterFixture.forward(m, in.tensors()), exp.tensor("output")) < 1e-4);
        }
    }

    @Test
    void peftProjectionEjectsToItsOutput() {
        PeftModel m = tinyWith("gpt2", 4, DType.F32, "prefix[num_virtual_tokens=3,prefix_projection=true,encoder_hidden_size=5]");
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = forward(m);
        }
        PrefixEncoder.eject(m, "p");
        assertEquals(List.of("prompt_encoder.p.embedding.weight"), m.adapter("p").parameterNames());
        try (var s = GradMode.noGrad()) {
            assertTrue(AdapterFixture.relError(forward(m), before) < 1e-6);
        }
    }

    // ------------------------------------------------------------------ sizes

    private static final String BERT_BASE = """
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": 30522}""";

    private static long count(ModelConfig c, String spec) {
        MethodConfig config = MethodRegistry.parse(spec).get(0);
        return MethodRegistry.method(config.method()).parameterShapes(ModelShape.of(c), "default", config).values().stream()
                .mapToLong(s -> Tensor.numel(s)).sum();
    }

    @Test
    void bertBaseCounts() {
        ModelConfig bert = ModelConfig.parse(BERT_BASE, "bert-base");
        assertEquals(368_640, count(bert, "prefix[num_virtual_tokens=20]"));
        assertEquals(368_640, count(bert, "prefix_tuning_flat[prefix_length=20]"));
        long mlp = 30 * 768 + (768 * 512 + 512) + (512 * 18_432 + 18_432);
        assertEquals(mlp, count(bert, "prefix_tuning"));
    }

    @Test
    void shapesMatchInstalledTensors() {
        for (String spec : List.of("prefix_tuning[prefix_length=3,bottleneck_size=4]", "prefix_tuning_flat[prefix_length=3]",
                "prefix[num_virtual_tokens=3]", "prefix[num_virtual_tokens=3,prefix_projection=true,encoder_hidden_size=6]")) {
            PeftModel m = tinyWith("llama", 2, DType.F32, spec);
            MethodConfig c = m.adapter("p").configs().get(0);
            Map<String, int[]> shapes = MethodRegistry.method(c.method()).parameterShapes(m.shape(), "p", c);
            Map<String, Tensor> installed = m.adapterParameters("p");
            assertEquals(shapes.keySet(), installed.keySet(), spec);
            shapes.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), spec + " " + n));
        }
    }

    // ------------------------------------------------------------------ files

    private static Tensor reloadOutput(PeftModel original, Path dir, boolean peft) throws IOException {
        if (peft) AdapterFiles.savePeft(original, "p", dir);
        else AdapterFiles.save(original, "p", dir);
        PeftModel copy = TinyModels.model(original.config(), DType.F32, 3);
        copy.setActive(AdapterFiles.load(copy, dir, "p").name());
        try (var s = GradMode.noGrad()) {
            return forward(copy);
        }
    }

    @Test
    void roundTrips(@TempDir Path tmp) throws IOException {
        String[][] cases = {{"llama", "prefix_tuning[prefix_length=3,bottleneck_size=4]", "false"},
                {"bert", "prefix_tuning_flat[prefix_length=2]", "false"}, {"llama", "prefix[num_virtual_tokens=3]", "true"},
                {"gpt2", "prefix[num_virtual_tokens=2,prefix_projection=true,encoder_hidden_size=3]", "false"}};
        for (String[] c : cases) {
            PeftModel m = tinyWith(c[0], 2, DType.F32, c[1]);
            Tensor before;
            try (var s = GradMode.noGrad()) {
                before = forward(m);
            }
            Path dir = tmp.resolve(c[0] + c[1].length());
            assertEquals(0.0, AdapterFixture.relError(reloadOutput(m, dir, Boolean.parseBoolean(c[2])), before), 1e-7, c[1]);
        }
    }

    @Test
    void peftSavingOfAProjectionNeedsEject(@TempDir Path tmp) throws IOException {
        PeftModel m = tinyWith("gpt2", 4, DType.F32, "prefix[num_virtual_tokens=2,prefix_projection=true,encoder_hidden_size=3]");
        Exception e = assertThrows(Exception.class, () -> AdapterFiles.savePeft(m, "p", tmp.resolve("x")));
        assertTrue(e.getMessage().contains("eject"), e.getMessage());
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = forward(m);
        }
        PrefixEncoder.eject(m, "p");
        assertEquals(0.0, AdapterFixture.relError(reloadOutput(m, tmp.resolve("y"), true), before), 1e-7);
    }

    @Test
    void adapterHubKeysMapUnderTheAdapterName() {
        PrefixTuningMethod method = new PrefixTuningMethod();
        assertEquals("prefix_tuning.prefix_tunings.y.self_prefix.wte.weight",
                method.treeName("prefix_tuning.prefix_tunings.x.self_prefix.wte.weight", "y"));
        assertEquals("prefix_tuning.prefix_tunings.y.self_prefix.control_trans",
                method.treeName("model.prefix_tuning.prefix_tunings.x.self_prefix.control_trans", "y"));
        assertEquals(null, method.treeName("prefix_tuning.prefix_tunings.x.cross_prefix.control_trans", "y"));
        assertEquals(null, method.treeName("encoder.layer.0.output.adapters.x.adapter_up.weight", "y"));
    }

    @Test
    void zeroInitialisation() {
        PeftModel m = tinyWith("llama", 2, DType.F32, "prefix[num_virtual_tokens=2,init_weights=zero]");
        Tensor w = m.namedParameters().get("prompt_encoder.p.embedding.weight");
        for (long i = 0; i < w.numel(); i++) assertEquals(0.0, w.getFlat(i));
    }

    // ------------------------------------------------------------------ refused settings

    @Test
    void refusedSettingsNameTheField() {
        ModelConfig llama = TinyModels.config("llama", 2);
        assertMessage("leave_out", () -> TinyModels.model(llama, DType.F32, 1).addAdapter("p", "prefix_tuning[leave_out=0]", 1));
        assertMessage("leave_out names layer 7", () -> TinyModels.model(llama, DType.F32, 1).addAdapter("p", "prefix_tuning[leave_out=7]", 1));
        assertMessage("token_dim is 8", () -> TinyModels.model(llama, DType.F32, 1).addAdapter("p", "prefix[token_dim=8]", 1));
        assertMessage("prefix_lenght", () -> MethodRegistry.parse("prefix_tuning[prefix_lenght=3]"));
        assertMessage("non_linearity", () -> MethodRegistry.parse("prefix_tuning[non_linearity=sparkle]"));
        assertMessage("num_transformer_submodules", () -> MethodRegistry.parse("prefix[num_transformer_submodules=2]"));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable e) {
        Exception x = assertThrows(Exception.class, e);
        assertTrue(x.getMessage().contains(part), "message '" + x.getMessage() + "' should mention " + part);
    }
}
