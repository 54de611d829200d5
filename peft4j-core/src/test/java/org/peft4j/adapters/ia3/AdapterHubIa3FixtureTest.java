package org.peft4j.adapters.ia3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.loha.AdapterFixtureRun;
import org.peft4j.adapters.loha.BertBase;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

class AdapterHubIa3FixtureTest {
    private final AdapterHubIa3Method method = new AdapterHubIa3Method();

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama"})
    void matchesAdapterHub(String arch) throws Exception {
        AdapterFixtureRun.adapterHub(arch, "ia3", method).check();
    }

    @ParameterizedTest
    @ValueSource(strings = {"bert", "gpt2", "llama"})
    void defaultsAreANoOpAtAdapterHubsPlaces(String arch) throws Exception {
        Path hf = Fixtures.dir("hf").resolve(arch);
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = AdapterFixtureRun.readAll(hf.resolve("inputs.safetensors"));
            Tensor base = AdapterFixtureRun.output(model, in);
            model.addAdapter("a", "ia3_adapterhub[leave_out=0]", 1);
            model.setActive("a");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), base));
            Map<String, int[]> predicted = method.parameterShapes(model.shape(), "a", model.adapter("a").configs().get(0));
            Map<String, Tensor> installed = model.adapterParameters("a");
            assertEquals(predicted.keySet(), installed.keySet());
            predicted.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            assertTrue(installed.keySet().stream().noneMatch(k -> k.matches(".*(layer|layers|h)\\.0\\..*")), "layer 0 is left out");
            Map<String, int[]> want = switch (arch) {
                case "bert" -> Map.of("encoder.layer.1.attention.self.key.loras.a.lora_B", new int[] {32, 1},
                        "encoder.layer.1.intermediate.dense.loras.a.lora_B", new int[] {64, 1});
                case "gpt2" -> Map.of("transformer.h.1.attn.c_attn.loras.a.lora_B", new int[] {64, 1},
                        "transformer.h.1.mlp.c_fc.loras.a.lora_B", new int[] {128, 1});
                default -> Map.of("model.layers.1.self_attn.v_proj.loras.a.lora_B", new int[] {16, 1},
                        "model.layers.1.mlp.down_proj.loras.a.lora_B", new int[] {32, 1});
            };
            want.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            assertEquals((pm.config().numLayers() - 1) * (arch.equals("gpt2") ? 2 : 3), installed.size());
            model.deleteAdapter("a");
            assertTrue(model.namedParameters().keySet().stream().noneMatch(k -> k.contains(".loras.")));
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), base));
        }
    }

    @Test
    void readsOnlyScaleModeConfigsAndRefusesWhatItCannotDo() throws Exception {
        JsonNode config = AdapterFixtureRun.readJson(Fixtures.dir("adapterhub").resolve("bert/ia3/adapter_config.json")).get("config");
        assertTrue(method.accepts(config));
        JsonNode lora = AdapterFixtureRun.readJson(Fixtures.dir("adapterhub").resolve("bert/lora/adapter_config.json")).get("config");
        assertFalse(method.accepts(lora));
        AdapterHubIa3Config c = (AdapterHubIa3Config) method.fromAdapterHubConfig(config);
        assertEquals(java.util.List.of("k", "v"), c.attnMatrices());
        assertTrue(c.selfattnLora() && c.intermediateLora() && !c.outputLora());
        assertEquals(c, method.fromJson(c.toJson()));
        for (String[] bad : new String[][] {{"r", "2"}, {"use_gating", "true"}, {"dropout", "0.1"}, {"use_dora", "true"}}) {
            ObjectNode changed = config.deepCopy();
            changed.set(bad[0], new com.fasterxml.jackson.databind.ObjectMapper().readTree(bad[1]));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> method.fromAdapterHubConfig(changed));
            assertTrue(e.getMessage().contains(bad[0]), e.getMessage());
        }
        assertEquals("encoder.layer.0.intermediate.dense.loras.x.lora_B",
                method.treeName("encoder.layer.0.intermediate.dense.loras.ia3.lora_B", "x"));
        assertEquals(null, method.treeName("encoder.layer.0.output.adapters.ia3.adapter_up.weight", "x"));
    }

    @Test
    void bertBaseCounts() {
        // key, value: 768 each; intermediate.dense: 3072.
        assertEquals(55_296, BertBase.count(method.parameterShapes(BertBase.SHAPE, "a",
                org.peft4j.adapters.MethodRegistry.parse("ia3_adapterhub").get(0))));
    }
}
