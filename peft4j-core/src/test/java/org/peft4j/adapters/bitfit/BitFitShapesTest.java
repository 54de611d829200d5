package org.peft4j.adapters.bitfit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.AdapterSummary;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ParameterSummary;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/** Trainable counts from the definition, and {@code parameterShapes} against what {@code install} trains. */
class BitFitShapesTest {
    private static final AdapterMethod BITFIT = MethodRegistry.method("bitfit");

    private static final String BERT_BASE = """
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 30522}""";
    private static final String GPT2_SMALL = """
            {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257}""";
    /** TinyLlama-1.1B's shape: grouped-query attention, 4 key/value heads of 64. */
    private static final String TINY_LLAMA = """
            {"model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 22, "num_attention_heads": 32,
             "num_key_value_heads": 4, "intermediate_size": 5632, "vocab_size": 32000, "tie_word_embeddings": false}""";

    private static long count(String configJson, String spec) {
        ModelConfig c = ModelConfig.parse(configJson, "test-config");
        MethodConfig m = MethodRegistry.parse(spec).get(0);
        return BITFIT.parameterShapes(ModelShape.of(c), "default", m).values().stream()
                .mapToLong(s -> Tensor.numel(s)).sum();
    }

    @Test
    void bertBaseCounts() {
        int layers = 12, h = 768, f = 3072;
        // per layer: q, k, v, attention output dense, attention LayerNorm β, output dense, output LayerNorm β
        // (7 of size H) plus the intermediate dense (F); once: the embeddings' LayerNorm β and the pooler.
        long all = (long) layers * (7 * h + f) + 2 * h;
        assertEquals(102_912, all);
        assertEquals(all, count(BERT_BASE, "bitfit"));
        assertEquals((long) layers * (h + f), count(BERT_BASE, "bitfit[biases=query|intermediate]"));
        assertEquals(46_080, count(BERT_BASE, "bitfit[biases=query|intermediate]"));
        assertEquals((long) (2 * layers + 1) * h, count(BERT_BASE, "bitfit[biases=LayerNorm]"));
        assertEquals(7 * h + f, count(BERT_BASE, "bitfit[biases=layer.11]"));
        // BERT has every bias already: add_missing adds nothing
        assertEquals(all, count(BERT_BASE, "bitfit[add_missing=true]"));
        // summary: the biases are base tensors, trainable without adding to the total
        ModelConfig c = ModelConfig.parse(BERT_BASE, "bert-base");
        ParameterSummary s = AdapterSummary.of(c, "bitfit");
        assertEquals(all, s.trainable());
        assertEquals(ParameterSummary.ofBase(c).total(), s.total());
    }

    @Test
    void gpt2SmallCounts() {
        int layers = 12, h = 768, f = 3072;
        // per layer: ln_1 (H), c_attn (3H), attn.c_proj (H), ln_2 (H), c_fc (F), mlp.c_proj (H); once: ln_f
        long all = (long) layers * (7 * h + f) + h;
        assertEquals(102_144, all);
        assertEquals(all, count(GPT2_SMALL, "bitfit"));
        assertEquals((long) layers * 3 * h, count(GPT2_SMALL, "bitfit[biases=c_attn]"));
    }

    @Test
    void llamaHasNoBiasUnlessAdded() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> count(TINY_LLAMA, "bitfit"));
        assertTrue(e.getMessage().contains("'llama' model") && e.getMessage().contains("no bias")
                && e.getMessage().contains("add_missing=true"), e.getMessage());
        int layers = 22, h = 2048, f = 5632, kv = 4 * 64;
        // q_proj (H), k_proj and v_proj (kv heads × head dim), o_proj (H), gate and up (F), down (H); no lm_head
        long added = (long) layers * (3 * h + 2 * kv + 2 * f);
        assertEquals(394_240, added);
        assertEquals(added, count(TINY_LLAMA, "bitfit[add_missing=true]"));
        ModelConfig c = ModelConfig.parse(TINY_LLAMA, "tinyllama");
        assertEquals(ParameterSummary.ofBase(c).total() + added, AdapterSummary.of(c, "bitfit[add_missing=true]").total());
        assertEquals((long) layers * 2 * kv, count(TINY_LLAMA, "bitfit[add_missing=true,biases=k_proj|v_proj]"));
    }

    @Test
    void unmatchedEntryIsAnErrorListingTheBiases() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> count(BERT_BASE, "bitfit[biases=q_proj]"));
        assertTrue(e.getMessage().contains("'q_proj'") && e.getMessage().contains("encoder.layer.*.attention.self.query"),
                e.getMessage());
    }

    @Test
    void shapesMatchInstalledTensorsOnEveryFixture() throws Exception {
        String[][] cases = {{"bert", "bitfit"}, {"bert", "bitfit[biases=query|intermediate]"}, {"gpt2", "bitfit"},
                {"llama", "bitfit[add_missing=true]"}, {"qwen2", "bitfit"}, {"qwen2", "bitfit[add_missing=true,biases=mlp]"}};
        for (String[] c : cases) {
            try (PretrainedModel pm = ModelLoader.load(Fixtures.dir("hf").resolve(c[0]).resolve("base"))) {
                PeftModel model = new PeftModel(pm.model(), pm.config());
                Map<String, int[]> expected = BITFIT.parameterShapes(model.shape(), "bf", MethodRegistry.parse(c[1]).get(0));
                model.addAdapter("bf", c[1], 0);
                Map<String, Tensor> installed = model.adapterParameters("bf");
                assertEquals(expected.keySet(), installed.keySet(), c[0] + " " + c[1]);
                expected.forEach((n, s) -> assertArrayEquals(s, installed.get(n).shape(), n));
            }
        }
    }
}
