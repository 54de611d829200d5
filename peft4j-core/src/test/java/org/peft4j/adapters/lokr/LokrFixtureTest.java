package org.peft4j.adapters.lokr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

class LokrFixtureTest {
    private final LokrMethod method = new LokrMethod();

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama", "qwen2"})
    void matchesPeft(String arch) throws Exception {
        AdapterFixtureRun.peft(arch, "lokr", method).check();
    }

    @Test
    void newAdapterLeavesTheModelUnchangedAndHasThePredictedShapes() throws Exception {
        Path hf = Fixtures.dir("hf").resolve("bert");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = AdapterFixtureRun.readAll(hf.resolve("inputs.safetensors"));
            Tensor base = AdapterFixtureRun.output(model, in);
            model.addAdapter("a", "lokr[r=1,decompose_both=true,target_modules=query|intermediate.dense]", 5);
            model.addAdapter("b", "lokr[r=8,decompose_factor=2]", 6);
            for (String name : new String[] {"a", "b"}) {
                model.setActive(name);
                assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), base), name);
                Map<String, int[]> predicted = method.parameterShapes(model.shape(), name, model.adapter(name).configs().get(0));
                Map<String, Tensor> installed = model.adapterParameters(name);
                assertEquals(predicted.keySet(), installed.keySet());
                predicted.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            }
            // query 32×32 → (4, 8) both ways; r = 1 < 4/2 decomposes w1 too, r = 1 < 8/2 decomposes w2.
            Map<String, Tensor> a = model.adapterParameters("a");
            assertArrayEquals(new int[] {4, 1}, a.get("encoder.layer.0.attention.self.query.lokr_w1_a.a").shape());
            assertArrayEquals(new int[] {1, 8}, a.get("encoder.layer.0.attention.self.query.lokr_w2_b.a").shape());
            // intermediate.dense is 64 × 32: out (8, 8), in (4, 8).
            assertArrayEquals(new int[] {8, 1}, a.get("encoder.layer.0.intermediate.dense.lokr_w1_a.a").shape());
            // decompose_factor 2 with r = 8 ≥ 16/2: w1 [2, 2] and a full w2 [16, 16] on query/value (PEFT's default targets).
            Map<String, Tensor> b = model.adapterParameters("b");
            assertArrayEquals(new int[] {2, 2}, b.get("encoder.layer.1.attention.self.value.lokr_w1.b").shape());
            assertArrayEquals(new int[] {16, 16}, b.get("encoder.layer.1.attention.self.value.lokr_w2.b").shape());
            assertFalse(b.keySet().stream().anyMatch(k -> k.contains(".key.")));
        }
    }

    @Test
    void peftSaveThenLoadGivesTheSameOutputs(@TempDir Path dir) throws Exception {
        Path hf = Fixtures.dir("hf").resolve("llama");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            AdapterFixtureRun.assertPeftSaveLoadKeepsOutputs(pm, hf, "lokr", method, dir);
        }
    }

    @Test
    void peftConfigRoundTripsWithPeftsFieldNames() throws Exception {
        JsonNode fixture = AdapterFixtureRun.readJson(Fixtures.dir("hf").resolve("llama/lokr/adapter_config.json"));
        ObjectNode written = method.toPeftConfig(method.fromPeftConfig(fixture));
        ObjectNode want = fixture.deepCopy();
        want.remove("peft_version");
        want.putNull("task_type");
        assertEquals(want, written);
        LokrConfig c = (LokrConfig) MethodRegistry.parse("lokr[decompose_both=true,decompose_factor=4,rank_dropout_scale=true]").get(0);
        assertTrue(c.decomposeBoth() && c.rankDropoutScale());
        assertEquals(4, c.decomposeFactor());
        assertEquals(c, method.fromJson(c.toJson()));
    }

    @Test
    void bertBaseCounts() {
        // 768 = 24 · 32: w1 [24, 24] full, w2 = [32, 8]·[8, 32] (r = 8 < 32/2): 1,088 per query/value layer.
        assertEquals(24 * 1_088, BertBase.count(method.parameterShapes(BertBase.SHAPE, "a", MethodRegistry.parse("lokr").get(0))));
        // decompose_both: w1 = [24, 8]·[8, 24] too (r = 8 < 24/2).
        assertEquals(24 * (384 + 512), BertBase.count(method.parameterShapes(BertBase.SHAPE, "a",
                MethodRegistry.parse("lokr[decompose_both=true]").get(0))));
    }
}
