package org.peft4j.adapters.ia3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.loha.AdapterFixtureRun;
import org.peft4j.adapters.loha.BertBase;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

class Ia3FixtureTest {
    private final Ia3Method method = new Ia3Method();

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "gpt2", "llama", "qwen2"})
    void matchesPeft(String arch) throws Exception {
        AdapterFixtureRun.peft(arch, "ia3", method).check();
    }

    /** PEFT's defaults for the model type, shapes as the summary predicts, and ones leave the model unchanged. */
    @ParameterizedTest
    @ValueSource(strings = {"bert", "gpt2", "llama", "qwen2"})
    void defaultsAreANoOpWithPeftsShapes(String arch) throws Exception {
        Path hf = Fixtures.dir("hf").resolve(arch);
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = AdapterFixtureRun.readAll(hf.resolve("inputs.safetensors"));
            Tensor base = AdapterFixtureRun.output(model, in);
            model.addAdapter("a", "ia3", 1);
            model.setActive("a");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), base));
            Map<String, int[]> predicted = method.parameterShapes(model.shape(), "a", model.adapter("a").configs().get(0));
            Map<String, Tensor> installed = model.adapterParameters("a");
            assertEquals(predicted.keySet(), installed.keySet());
            predicted.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            Map<String, int[]> want = switch (arch) {
                case "bert" -> Map.of("encoder.layer.0.attention.self.key.ia3_l.a", new int[] {32, 1},
                        "encoder.layer.0.attention.output.dense.ia3_l.a", new int[] {1, 32},
                        "encoder.layer.0.output.dense.ia3_l.a", new int[] {1, 64});
                case "gpt2" -> Map.of("transformer.h.0.attn.c_attn.ia3_l.a", new int[] {96, 1},
                        "transformer.h.0.mlp.c_proj.ia3_l.a", new int[] {1, 128});
                case "llama" -> Map.of("model.layers.0.self_attn.k_proj.ia3_l.a", new int[] {16, 1},
                        "model.layers.0.mlp.down_proj.ia3_l.a", new int[] {1, 64});
                default -> Map.of("model.layers.0.self_attn.q_proj.ia3_l.a", new int[] {32, 1},
                        "model.layers.0.mlp.down_proj.ia3_l.a", new int[] {1, 64});
            };
            want.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            assertEquals(arch.equals("bert") ? 4 : arch.equals("gpt2") ? 2 : 3, installed.size() / pm.config().numLayers());
        }
    }

    @Test
    void peftSaveThenLoadGivesTheSameOutputs(@TempDir Path dir) throws Exception {
        Path hf = Fixtures.dir("hf").resolve("gpt2");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = AdapterFixtureRun.assertPeftSaveLoadKeepsOutputs(pm, hf, "ia3", method, dir);
            model.deleteAdapter("copy");
            assertTrue(model.namedParameters().keySet().stream().noneMatch(k -> k.endsWith(".copy")));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "gpt2", "llama", "qwen2"})
    void peftConfigRoundTripsWithPeftsFieldNames(String arch) throws Exception {
        JsonNode fixture = AdapterFixtureRun.readJson(Fixtures.dir("hf").resolve(arch).resolve("ia3/adapter_config.json"));
        ObjectNode written = method.toPeftConfig(method.fromPeftConfig(fixture));
        ObjectNode want = fixture.deepCopy();
        want.remove("peft_version");
        want.putNull("task_type");
        assertEquals(want, written);
    }

    @Test
    void configRules() {
        Ia3Config regex = (Ia3Config) method.fromJson(
                new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode().put("target_modules", ".*\\.(key|dense)")
                        .put("feedforward_modules", ".*output\\.dense"));
        assertTrue(regex.targets().regex() != null && regex.feedforward().matches("encoder.layer.0.output.dense"));
        assertTrue(!regex.feedforward().matches("encoder.layer.0.intermediate.dense"));
        Ia3Config list = (Ia3Config) MethodRegistry.parse("ia3[target_modules=key|output.dense,feedforward_modules=output.dense]").get(0);
        assertTrue(list.feedforward().matches("encoder.layer.0.attention.output.dense"), "plain suffix, as PEFT");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MethodRegistry.parse("ia3[target_modules=key|value,feedforward_modules=output.dense]"));
        assertTrue(e.getMessage().contains("subset"), e.getMessage());
        Ia3Config layers = (Ia3Config) MethodRegistry.parse("ia3[layers_to_transform=1]").get(0);
        e = assertThrows(IllegalArgumentException.class, () -> method.toPeftConfig(layers));
        assertTrue(e.getMessage().contains("layers_to_transform"), e.getMessage());
        assertEquals(layers, method.fromJson(layers.toJson()));
    }

    @Test
    void bertBaseCounts() {
        // key, value and attention.output.dense: 768 each; output.dense (feed-forward): 3072.
        assertEquals(12 * (3 * 768 + 3072), BertBase.count(method.parameterShapes(BertBase.SHAPE, "a", MethodRegistry.parse("ia3").get(0))));
    }
}
