package org.peft4j.adapters.loha;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

class LohaFixtureTest {
    private final LohaMethod method = new LohaMethod();

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama", "qwen2"})
    void matchesPeft(String arch) throws Exception {
        AdapterFixtureRun.peft(arch, "loha", method).check();
    }

    @Test
    void newAdapterLeavesTheModelUnchanged() throws Exception {
        Path hf = Fixtures.dir("hf").resolve("llama");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = AdapterFixtureRun.readAll(hf.resolve("inputs.safetensors"));
            Tensor base = AdapterFixtureRun.output(model, in);
            model.addAdapter("a", "loha[r=4,alpha=8,target_modules=q_proj|v_proj|down_proj]", 3);
            model.setActive("a");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), base));
            // Each installed tensor has the shape the summary predicts.
            Map<String, int[]> predicted = method.parameterShapes(model.shape(), "a", model.adapter("a").configs().get(0));
            Map<String, Tensor> installed = model.adapterParameters("a");
            assertEquals(predicted.keySet(), installed.keySet());
            predicted.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            // Per layer, 2·r·(out + in) for each of q_proj [32, 32], v_proj [16, 32], down_proj [32, 64].
            long perLayer = 2 * 4 * (32 + 32) + 2 * 4 * (16 + 32) + 2 * 4 * (32 + 64);
            assertEquals(pm.config().numLayers() * perLayer, installed.values().stream().mapToLong(Tensor::numel).sum());
        }
    }

    @Test
    void peftSaveThenLoadGivesTheSameOutputs(@TempDir Path dir) throws Exception {
        Path hf = Fixtures.dir("hf").resolve("roberta");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            AdapterFixtureRun.assertPeftSaveLoadKeepsOutputs(pm, hf, "loha", method, dir);
        }
    }

    @Test
    void peftConfigRoundTripsWithPeftsFieldNames() throws Exception {
        JsonNode fixture = AdapterFixtureRun.readJson(Fixtures.dir("hf").resolve("bert/loha/adapter_config.json"));
        ObjectNode written = method.toPeftConfig(method.fromPeftConfig(fixture));
        ObjectNode want = fixture.deepCopy();
        want.remove("peft_version");
        want.put("task_type", (String) null);
        assertEquals(want, written);
    }

    @Test
    void patternsAndErrors() {
        LohaConfig c = (LohaConfig) MethodRegistry.parse(
                "loha[r=4,rank_pattern={\"value\": 2},alpha_pattern={\"layer\\\\.1\\\\..*query\": 3}]").get(0);
        assertEquals(2, c.options().rank("encoder.layer.0.attention.self.value"));
        assertEquals(4, c.options().rank("encoder.layer.0.attention.self.query"));
        assertEquals(3, c.options().alpha("encoder.layer.1.attention.self.query"));
        assertEquals(8, c.options().alpha("encoder.layer.0.attention.self.query"));
        assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("loha[r=0]"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("loha[rank=4]"));
        assertTrue(e.getMessage().contains("rank"), e.getMessage());
        ObjectNode withSave = JsonNodeFactory.instance.objectNode().put("peft_type", "LOHA");
        withSave.putArray("modules_to_save").add("classifier");
        assertThrows(IllegalArgumentException.class, () -> method.fromPeftConfig(withSave));
        assertEquals(List.of("LOHA"), method.peftTypes());
    }

    @Test
    void bertBaseCounts() {
        // 2·r·(out + in) per query/value layer, r = 8: 24,576 each, 24 layers.
        assertEquals(589_824, BertBase.count(method.parameterShapes(BertBase.SHAPE, "a", MethodRegistry.parse("loha").get(0))));
        // rank_pattern gives value r = 4.
        assertEquals(12 * (2 * 8 + 2 * 4) * (768 + 768), BertBase.count(method.parameterShapes(BertBase.SHAPE, "a",
                MethodRegistry.parse("loha[rank_pattern={\"value\": 4}]").get(0))));
    }
}
