package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/** The config.json spellings and checkpoint names real Hugging Face models use all load as the same model. */
class ConfigDialectTest {
    @TempDir
    Path tmp;

    // ---------------------------------------------------------------- rope

    @Test
    void topLevelRopeThetaAndRopeParametersGiveTheSameModel() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("llama");
        Tensor reference = output(FixtureModels.base("llama"), in);
        Path legacy = FixtureModels.copy("llama", tmp.resolve("legacy"), c -> {
            c.remove("rope_parameters");
            c.put("rope_theta", 10000.0);
            c.putNull("rope_scaling");
        }, t -> {});
        assertEquals(10000.0, ModelConfig.load(legacy).ropeTheta());
        assertSameOutput(reference.toFloatArray(), output(legacy, in).toFloatArray(), "identical logits");

        // the value is really read: another theta changes the logits
        Path other = FixtureModels.copy("llama", tmp.resolve("theta"), c -> {
            c.remove("rope_parameters");
            c.put("rope_theta", 500000.0);
        }, t -> {});
        assertEquals(500000.0, ModelConfig.load(other).ropeTheta());
        assertTrue(FixtureModels.relError(output(other, in), reference) > 1e-4);
    }

    @Test
    void ropeThetaFromEitherPlaceOrTheDefault() {
        assertEquals(1e6, parse(llama("\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}")).ropeTheta());
        assertEquals(1e6, parse(llama("\"rope_theta\": 1000000.0")).ropeTheta());
        assertEquals(1e6, parse(llama("\"rope_theta\": 1000000, \"rope_scaling\": {\"type\": \"default\"}")).ropeTheta());
        assertEquals(10000.0, parse(llama("\"rope_scaling\": null")).ropeTheta());
    }

    // ---------------------------------------------------------------- norm epsilon, heads, head_dim

    @Test
    void normEpsilonUnderEachSpelling() {
        assertEquals(1e-7, parse(bert("\"layer_norm_eps\": 1e-7")).normEps());
        assertEquals(1e-7, parse(gpt2("\"layer_norm_epsilon\": 1e-7")).normEps());
        assertEquals(1e-7, parse(llama("\"rms_norm_eps\": 1e-7")).normEps());
        // each family's default when absent
        assertEquals(1e-12, parse(bert("")).normEps());
        assertEquals(1e-5, parse(gpt2("")).normEps());
        assertEquals(1e-6, parse(llama("")).normEps());
    }

    @Test
    void keyValueHeadsDefaultToTheAttentionHeads() {
        assertEquals(4, parse(llama("")).numKvHeads());
        assertEquals(2, parse(llama("\"num_key_value_heads\": 2")).numKvHeads());
        assertEquals(1, parse(llama("\"num_key_value_heads\": 1")).numKvHeads());
    }

    @Test
    void headDimMayDifferFromHiddenOverHeads() {
        ModelConfig c = parse(llama("\"head_dim\": 16, \"num_key_value_heads\": 2"));
        assertEquals(8, parse(llama("")).headDim());
        assertEquals(16, c.headDim());
        Map<String, int[]> shapes = new LinkedHashMap<>();
        ModelLoader.specs(c).forEach(s -> shapes.put(s.name(), s.shape()));
        assertArrayEquals(new int[] {64, 32}, shapes.get("model.layers.0.self_attn.q_proj.weight"));
        assertArrayEquals(new int[] {32, 32}, shapes.get("model.layers.0.self_attn.k_proj.weight"));
        assertArrayEquals(new int[] {32, 64}, shapes.get("model.layers.0.self_attn.o_proj.weight"));
        // and the model runs with those shapes
        Module m = ModelLoader.build(c, randomWeights(c), "head_dim test");
        try (var s = GradMode.noGrad()) {
            Tensor logits = ((CausalLm) m).forward(Tensor.of(new long[] {1, 5, 9, 2, 7, 3}, 2, 3),
                    Tensor.full(org.peft4j.tensor.DType.I64, 1, 2, 3), null, null);
            assertArrayEquals(new int[] {2, 3, 64}, logits.shape());
        }
    }

    @Test
    void paddingAndTokenTypeFields() {
        assertEquals(1, parse(bert("\"pad_token_id\": 1, \"type_vocab_size\": 1")).padTokenId());
        assertEquals(1, parse(bert("\"type_vocab_size\": 1")).typeVocabSize());
        assertEquals(2, parse(bert("")).typeVocabSize());
        assertNull(parse(gpt2("\"pad_token_id\": null")).padTokenId());
        assertEquals(List.of(2, 32000), parse(llama("\"eos_token_id\": [2, 32000]")).eosTokenIds());
        assertEquals(List.of(2), parse(llama("\"eos_token_id\": 2")).eosTokenIds());
    }

    // ---------------------------------------------------------------- tied embeddings

    @Test
    void tiedEmbeddingsFollowTheFlagAndEachFamilysDefault() {
        assertFalse(parse(llama("")).tieWordEmbeddings());
        assertTrue(parse(llama("\"tie_word_embeddings\": true")).tieWordEmbeddings());
        assertTrue(parse(gpt2("")).tieWordEmbeddings());
        assertTrue(parse("{\"model_type\": \"qwen2\", \"hidden_size\": 32, \"num_hidden_layers\": 1, "
                + "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"vocab_size\": 64}").tieWordEmbeddings());
    }

    @Test
    void tiedLlamaUsesTheEmbeddingsAsItsHead() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("llama");
        // untied, with lm_head.weight set to the embeddings, versus tied without lm_head.weight: the same logits
        Path untied = FixtureModels.copy("llama", tmp.resolve("untied"), c -> {},
                t -> t.put("lm_head.weight", t.get("model.embed_tokens.weight")));
        Path tied = FixtureModels.copy("llama", tmp.resolve("tied"), c -> c.put("tie_word_embeddings", true),
                t -> t.remove("lm_head.weight"));
        try (PretrainedModel pm = ModelLoader.load(tied)) {
            assertFalse(pm.model().hasChild("lm_head"));
            assertFalse(pm.model().namedParameters().containsKey("lm_head.weight"));
        }
        assertSameOutput(output(untied, in).toFloatArray(), output(tied, in).toFloatArray());
        // a tied checkpoint that still carries lm_head.weight (as many do) loads too
        Path tiedWithHead = FixtureModels.copy("llama", tmp.resolve("tiedhead"), c -> c.put("tie_word_embeddings", true), t -> {});
        assertSameOutput(output(tied, in).toFloatArray(), output(tiedWithHead, in).toFloatArray());
    }

    // ---------------------------------------------------------------- activations

    @Test
    void hiddenActVariants() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("llama");
        Tensor silu = output(FixtureModels.base("llama"), in);
        Path swish = FixtureModels.copy("llama", tmp.resolve("swish"), c -> c.put("hidden_act", "swish"), t -> {});
        assertSameOutput(silu.toFloatArray(), output(swish, in).toFloatArray(), "swish is silu");

        Map<String, Tensor> bertIn = FixtureModels.inputs("bert");
        Tensor gelu = output(FixtureModels.base("bert"), bertIn);
        for (String act : List.of("gelu_new", "gelu_pytorch_tanh", "relu")) {
            Path p = FixtureModels.copy("bert", tmp.resolve(act), c -> c.put("hidden_act", act), t -> {});
            double err = FixtureModels.relError(output(p, bertIn), gelu);
            assertTrue(err > 1e-7 && err < 0.5, act + " changes the output a little: " + err);
        }
        // GPT-2 names it activation_function
        assertEquals("relu", parse(gpt2("\"activation_function\": \"relu\"")).hiddenAct());
        assertEquals("gelu_new", parse(gpt2("")).hiddenAct());
    }

    // ---------------------------------------------------------------- legacy checkpoint names

    @Test
    void legacyBertNamesLoad() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("bert");
        Path legacy = FixtureModels.copy("bert", tmp.resolve("legacybert"), c -> {}, t -> {
            FixtureModels.rename(t, n -> "bert." + n.replace("LayerNorm.weight", "LayerNorm.gamma")
                    .replace("LayerNorm.bias", "LayerNorm.beta"));
            t.put("bert.embeddings.position_ids", Tensor.zeros(org.peft4j.tensor.DType.I64, 1, 64));
            t.put("cls.predictions.bias", Tensor.zeros(512));
        });
        assertSameOutput(output(FixtureModels.base("bert"), in).toFloatArray(), output(legacy, in).toFloatArray());
        try (PretrainedModel pm = ModelLoader.load(legacy)) {
            assertTrue(pm.model().namedParameters().containsKey("encoder.layer.0.output.LayerNorm.weight"));
        }
    }

    @Test
    void robertaPrefixLoads() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("roberta");
        Path prefixed = FixtureModels.copy("roberta", tmp.resolve("roberta"), c -> {},
                t -> FixtureModels.rename(t, n -> "roberta." + n));
        assertSameOutput(output(FixtureModels.base("roberta"), in).toFloatArray(), output(prefixed, in).toFloatArray());
    }

    @Test
    void originalGpt2NamesAndAttentionBuffersLoad() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("gpt2");
        Path legacy = FixtureModels.copy("gpt2", tmp.resolve("legacygpt2"), c -> {}, t -> {
            FixtureModels.rename(t, n -> n.startsWith("transformer.") ? n.substring("transformer.".length()) : n);
            for (int i = 0; i < 2; i++) {
                t.put("h." + i + ".attn.bias", Tensor.zeros(1, 1, 64, 64));
                t.put("h." + i + ".attn.masked_bias", Tensor.scalar(-1e4));
            }
        });
        assertTrue(FixtureModels.readAll(legacy).containsKey("h.0.attn.c_attn.weight"), "really written without prefix");
        assertSameOutput(output(FixtureModels.base("gpt2"), in).toFloatArray(), output(legacy, in).toFloatArray());
    }

    @Test
    void llamaRotaryBuffersAreIgnored() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("llama");
        Path withBuffers = FixtureModels.copy("llama", tmp.resolve("invfreq"), c -> {}, t -> {
            t.put("model.layers.0.self_attn.rotary_emb.inv_freq", Tensor.zeros(4));
            t.put("model.layers.1.self_attn.rotary_emb.inv_freq", Tensor.zeros(4));
        });
        assertSameOutput(output(FixtureModels.base("llama"), in).toFloatArray(), output(withBuffers, in).toFloatArray());
    }

    // ---------------------------------------------------------------- helpers

    private static Tensor output(Path dir, Map<String, Tensor> in) throws IOException {
        try (PretrainedModel pm = ModelLoader.load(dir)) {
            return FixtureModels.forward(pm, in);
        }
    }

    private static ModelConfig parse(String json) { return ModelConfig.parse(json, "test config"); }

    private static String bert(String extra) {
        return config("bert", "\"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
                + "\"intermediate_size\": 64, \"vocab_size\": 64", extra);
    }

    private static String gpt2(String extra) {
        return config("gpt2", "\"n_embd\": 32, \"n_layer\": 1, \"n_head\": 4, \"n_positions\": 16, \"vocab_size\": 64", extra);
    }

    private static String llama(String extra) {
        return config("llama", "\"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, "
                + "\"intermediate_size\": 64, \"vocab_size\": 64", extra);
    }

    private static String config(String type, String fields, String extra) {
        return "{\"model_type\": \"" + type + "\", " + fields + (extra.isEmpty() ? "" : ", " + extra) + "}";
    }

    /** Small random values for every parameter the config needs. */
    private static Map<String, Tensor> randomWeights(ModelConfig c) {
        Random r = new Random(3);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (ParamSpec s : ModelLoader.specs(c)) {
            float[] v = new float[Math.toIntExact(s.numel())];
            for (int i = 0; i < v.length; i++) v[i] = (float) (0.1 * r.nextGaussian());
            out.put(s.name(), Tensor.of(v, s.shape()));
        }
        return out;
    }

    /**
     * Two loads of the same weights compute the same numbers, up to the last float32 bit: the JIT may
     * switch a kernel (its exp or lane sum) between the two forwards.
     */
    private static void assertSameOutput(float[] expected, float[] actual, String... message) {
        assertEquals(expected.length, actual.length);
        float max = 0;
        for (float v : expected) max = Math.max(max, Math.abs(v));
        assertArrayEquals(expected, actual, 1e-6f * Math.max(1f, max), message.length > 0 ? message[0] : "same output");
    }
}
