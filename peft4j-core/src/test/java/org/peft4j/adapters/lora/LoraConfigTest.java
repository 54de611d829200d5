package org.peft4j.adapters.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.ModelShape;
import org.peft4j.models.Architecture;
import org.peft4j.models.ModelConfig;
import org.peft4j.testing.Fixtures;

/** LoRA's configuration: string and JSON forms, PEFT and AdapterHub configs and key names, parameter counts. */
class LoraConfigTest {
    private static final LoraMethod METHOD = new LoraMethod();

    private static LoraConfig parse(String spec) {
        List<MethodConfig> configs = MethodRegistry.parse(spec);
        assertEquals(1, configs.size());
        return (LoraConfig) configs.get(0);
    }

    @Test
    void stringFormWithPeftDefaults() {
        LoraConfig d = parse("lora");
        assertEquals(8, d.r());
        assertEquals(8.0, d.alpha());
        assertEquals(0.0, d.dropout());
        assertEquals(LoraConfig.Bias.NONE, d.bias());
        assertFalse(d.useRslora() || d.useDora() || d.useGating());
        assertNull(d.targets());
        assertEquals(List.of("query", "value"), d.targetsFor(Architecture.BERT).names());
        assertEquals(List.of("c_attn"), d.targetsFor(Architecture.GPT2).names());
        assertEquals(List.of("q_proj", "v_proj"), d.targetsFor(Architecture.LLAMA).names());

        LoraConfig c = parse("lora[r=16,alpha=32,target_modules=query|value]");
        assertEquals(16, c.r());
        assertEquals(32.0, c.alpha());
        assertEquals(List.of("query", "value"), c.targets().names());
        assertEquals(2.0, c.scalingFor("encoder.layer.0.attention.self.query"));
    }

    @Test
    void doraIsLoraWithUseDora() {
        LoraConfig c = parse("dora[r=4]");
        assertTrue(c.useDora());
        assertEquals("lora", c.method());
        assertFalse(parse("dora[use_dora=false]").useDora());
    }

    @Test
    void unknownFieldsAndBadValuesAreErrorsNamingThem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse("lora[rank=4]"));
        assertTrue(e.getMessage().contains("rank") && e.getMessage().contains("lora_alpha"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("lora[bias=some]")).getMessage().contains("lora_only"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("lora[r=0]")).getMessage().contains("r must"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("lora[alpha=2,lora_alpha=3]")).getMessage().contains("not both"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("lora[composition_mode=scale]")).getMessage().contains("IA3"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("lora[selfattn_lora=true,target_modules=query]"))
                .getMessage().contains("cannot be combined"));
    }

    @Test
    void jsonFormRoundTrips() {
        for (String spec : List.of("lora", "lora[r=16,alpha=32,target_modules=query|value,lora_dropout=0.1,bias=lora_only]",
                "dora[use_rslora=true,layers_to_transform=0|2,exclude_modules=key,init_lora_weights=gaussian]",
                "lora[target_modules=all-linear,rank_pattern={\"query\":2},alpha_pattern={\"value\":3.5},fan_in_fan_out=true]",
                "lora[selfattn_lora=true,attn_matrices=q|k,output_lora=true,leave_out=1,use_gating=true]")) {
            LoraConfig c = parse(spec);
            ObjectNode json = c.toJson();
            LoraConfig back = (LoraConfig) METHOD.fromJson(json);
            assertEquals(json, back.toJson(), spec);
        }
        LoraConfig regex = (LoraConfig) METHOD.fromJson(LoraFixtures.JSON.createObjectNode().put("target_modules", ".*\\.(query|value)"));
        assertEquals(".*\\.(query|value)", regex.targets().regex().pattern());
    }

    @Test
    void rankAndAlphaPatternsFollowPeftsRule() {
        LoraConfig c = parse("lora[r=8,alpha=16,rank_pattern={\"query\":2,\"layer\\\\.1\\\\..*value\":4},alpha_pattern={\"value\":4}]");
        assertEquals(2, c.rankFor("encoder.layer.0.attention.self.query"));
        assertEquals(8, c.rankFor("encoder.layer.0.attention.self.value"));
        assertEquals(4, c.rankFor("encoder.layer.1.attention.self.value"));
        assertEquals(8.0, c.scalingFor("encoder.layer.0.attention.self.query"));
        assertEquals(0.5, c.scalingFor("encoder.layer.0.attention.self.value"));
        assertEquals(1.0, c.scalingFor("encoder.layer.1.attention.self.value"));
    }

    // ------------------------------------------------------------------ PEFT

    @Test
    void everyFixtureConfigReadsAndWritesBackAsPeftWroteIt() throws IOException {
        Path hf = Fixtures.dir("hf");
        for (String arch : List.of("bert", "roberta", "gpt2", "llama", "qwen2")) {
            for (String kase : List.of("lora", "lora_rslora_bias", "dora", "mixed_ab/a", "mixed_ab/b")) {
                JsonNode peft = LoraFixtures.JSON.readTree(hf.resolve(arch).resolve(kase).resolve("adapter_config.json").toFile());
                LoraConfig c = (LoraConfig) METHOD.fromPeftConfig(peft);
                assertEquals(peft.get("r").asInt(), c.r());
                assertEquals(peft.get("use_dora").asBoolean(), c.useDora());
                ObjectNode written = METHOD.toPeftConfig(c);
                ObjectNode want = peft.deepCopy();
                want.putNull("task_type"); // the task is the caller's to fill in
                assertEquals(want, written, arch + "/" + kase);
                assertEquals(List.copyOf(iterable(want.fieldNames())), List.copyOf(iterable(written.fieldNames())), "PEFT's field order");
            }
        }
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void resolvedConfigsSaveTheArchitecturesDefaultsExplicitly() {
        ObjectNode gpt2 = METHOD.toPeftConfig(parse("lora").resolvedFor(Architecture.GPT2));
        assertEquals("[\"c_attn\"]", gpt2.get("target_modules").toString());
        assertTrue(gpt2.get("fan_in_fan_out").asBoolean());
        ObjectNode llama = METHOD.toPeftConfig(parse("dora[layers_to_transform=1]").resolvedFor(Architecture.LLAMA));
        assertEquals("[\"q_proj\",\"v_proj\"]", llama.get("target_modules").toString());
        assertEquals("[1]", llama.get("layers_to_transform").toString());
        assertFalse(llama.get("fan_in_fan_out").asBoolean());
        assertTrue(METHOD.toPeftConfig(parse("lora")).get("target_modules").isNull(), "unresolved: PEFT picks the default itself");
    }

    @Test
    void unsupportedPeftSettingsAreErrorsNamingTheField() throws IOException {
        JsonNode base = LoraFixtures.JSON.readTree(Fixtures.dir("hf").resolve("bert/lora/adapter_config.json").toFile());
        for (Map.Entry<String, String> e : Map.of("loftq_config", "{\"loftq_bits\":4}", "layer_replication", "[[0,1]]",
                "use_qalora", "true", "lora_bias", "true", "init_lora_weights", "\"pissa\"", "exclude_modules", "\".*key\"",
                "layers_pattern", "\"blocks_x\"", "some_future_option", "{\"x\":1}").entrySet()) {
            ObjectNode c = base.deepCopy();
            c.set(e.getKey(), LoraFixtures.JSON.readTree(e.getValue()));
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> METHOD.fromPeftConfig(c), e.getKey());
            assertTrue(ex.getMessage().contains(e.getKey()), ex.getMessage());
        }
        ObjectNode harmless = base.deepCopy();
        harmless.put("some_future_option", false).putNull("eva_config").put("layers_pattern", "layer").put("layers_to_transform", 1);
        assertEquals(List.of(1), ((LoraConfig) METHOD.fromPeftConfig(harmless)).targets().layers());
        ObjectNode regex = base.deepCopy();
        regex.put("target_modules", ".*\\.(query|key)");
        assertEquals(".*\\.(query|key)", ((LoraConfig) METHOD.fromPeftConfig(regex)).targets().regex().pattern());
        assertEquals(".*\\.(query|key)", METHOD.toPeftConfig(METHOD.fromPeftConfig(regex)).get("target_modules").asText());
    }

    @Test
    void peftKeysMapToTreeNamesAndBack() {
        String m = "encoder.layer.0.attention.self.query";
        Map<String, String> saved = Map.of(
                "base_model.model." + m + ".lora_A.weight", m + ".lora_A.x.weight",
                "base_model.model." + m + ".lora_B.weight", m + ".lora_B.x.weight",
                "base_model.model." + m + ".lora_magnitude_vector", m + ".lora_magnitude_vector.x.weight",
                "base_model.model." + m + ".base_layer.bias", m + ".base_layer.bias",
                "base_model.model.encoder.layer.0.output.LayerNorm.bias", "encoder.layer.0.output.LayerNorm.bias");
        saved.forEach((key, tree) -> {
            assertEquals(tree, METHOD.treeName(key, "x"), key);
            assertEquals(key, METHOD.peftKey(tree, "x"), tree);
        });
        assertEquals("base_model.model." + m + ".lora_A.default.weight", METHOD.peftMemoryName("base_model.model." + m + ".lora_A.weight", "default"));
        assertEquals("base_model.model." + m + ".lora_magnitude_vector.default.weight",
                METHOD.peftMemoryName("base_model.model." + m + ".lora_magnitude_vector", "default"));
        assertEquals("base_model.model." + m + ".base_layer.bias", METHOD.peftMemoryName("base_model.model." + m + ".base_layer.bias", "default"));
        assertNull(METHOD.treeName("base_model.model." + m + ".ia3_l.weight", "x"));
        assertNull(METHOD.treeName("base_model.model.embeddings.word_embeddings.lora_embedding_A", "x"));
        assertThrows(IllegalArgumentException.class, () -> METHOD.peftKey(m + ".lora_A.y.weight", "x"));
    }

    // ------------------------------------------------------------------ AdapterHub

    @Test
    void adapterHubLoraIsAcceptedAndItsIa3IsNot() throws IOException {
        Path hub = Fixtures.dir("adapterhub");
        JsonNode lora = LoraFixtures.JSON.readTree(hub.resolve("bert/lora/adapter_config.json").toFile()).get("config");
        JsonNode ia3 = LoraFixtures.JSON.readTree(hub.resolve("bert/ia3/adapter_config.json").toFile()).get("config");
        assertTrue(METHOD.accepts(lora));
        assertFalse(METHOD.accepts(ia3));
        assertFalse(METHOD.accepts(LoraFixtures.JSON.createObjectNode().put("architecture", "ia3")));
        assertThrows(IllegalArgumentException.class, () -> METHOD.fromAdapterHubConfig(ia3));
        LoraConfig c = (LoraConfig) METHOD.fromAdapterHubConfig(lora);
        assertEquals(4, c.r());
        assertEquals(2.0, c.scalingFor("encoder.layer.0.attention.self.query"));
        assertEquals(new AdapterHubTargets(true, List.of("q", "v"), false, false), c.hubTargets());
        ObjectNode vera = lora.deepCopy();
        vera.put("vera_d", 0.1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> METHOD.fromAdapterHubConfig(vera)).getMessage().contains("vera_d"));
    }

    @Test
    void adapterHubLocationsSelectTheModulesAdapterHubWraps() {
        LoraConfig all = parse("lora[selfattn_lora=true,attn_matrices=q|k|v,intermediate_lora=true,output_lora=true,leave_out=1]");
        List<String> bert = List.of("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.key",
                "encoder.layer.0.attention.self.value", "encoder.layer.0.attention.output.dense", "encoder.layer.0.intermediate.dense",
                "encoder.layer.0.output.dense", "encoder.layer.1.attention.self.query", "pooler.dense");
        Map<String, Object> modules = new java.util.LinkedHashMap<>();
        bert.forEach(n -> modules.put(n, n));
        assertEquals(List.of("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.key",
                "encoder.layer.0.attention.self.value", "encoder.layer.0.intermediate.dense", "encoder.layer.0.output.dense"),
                all.select(Architecture.BERT, modules));
        Map<String, Object> llama = new java.util.LinkedHashMap<>();
        for (String n : List.of("q_proj", "k_proj", "v_proj", "o_proj")) llama.put("model.layers.0.self_attn." + n, n);
        for (String n : List.of("gate_proj", "up_proj", "down_proj")) llama.put("model.layers.0.mlp." + n, n);
        assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"), all.select(Architecture.LLAMA, llama));
        assertThrows(IllegalArgumentException.class, () -> all.select(Architecture.GPT2, Map.of("transformer.h.0.attn.c_attn", 1)));
        LoraConfig mlpOnly = parse("lora[selfattn_lora=false,intermediate_lora=true]");
        assertEquals(List.of("transformer.h.0.mlp.c_fc"),
                mlpOnly.select(Architecture.GPT2, Map.of("transformer.h.0.mlp.c_fc", 1, "transformer.h.0.attn.c_attn", 2)));
    }

    @Test
    void adapterHubKeysMapToTreeNames() {
        assertEquals("encoder.layer.0.attention.self.query.lora_A.mine.weight",
                METHOD.treeName("encoder.layer.0.attention.self.query.loras.saved.lora_A", "mine"));
        assertEquals("model.layers.1.self_attn.v_proj.lora_B.mine.weight", METHOD.treeName("model.layers.1.self_attn.v_proj.loras.x.lora_B", "mine"));
        assertEquals("encoder.layer.0.attention.self.query.lora_gate.mine.bias",
                METHOD.treeName("encoder.layer.0.attention.self.query.loras.saved.gate.bias", "mine"));
        assertNull(METHOD.treeName("encoder.layer.0.output.adapters.a.adapter_up.weight", "mine"));
    }

    // ------------------------------------------------------------------ sizes

    @Test
    void bertBaseQueryValueRank8Has294912Parameters() {
        ModelConfig bertBase = ModelConfig.parse("""
                {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2,
                 "hidden_act": "gelu", "layer_norm_eps": 1e-12}""", "bert-base");
        ModelShape shape = ModelShape.of(bertBase);
        assertEquals(294_912, count(METHOD.parameterShapes(shape, "default", parse("lora[r=8,target_modules=query|value]"))));
        assertEquals(294_912, count(METHOD.parameterShapes(shape, "default", parse("lora"))));
        assertEquals(294_912 + 24 * 768, count(METHOD.parameterShapes(shape, "default", parse("dora"))));
        assertEquals(294_912 + 24 * 768, count(METHOD.parameterShapes(shape, "default", parse("lora[bias=lora_only]"))));
    }

    static long count(Map<String, int[]> shapes) {
        long n = 0;
        for (int[] s : shapes.values()) {
            long k = 1;
            for (int d : s) k *= d;
            n += k;
        }
        return n;
    }

    @Test
    void stringFormParsesThroughConfigArgsToo() {
        ConfigArgs args = LoraLayerTest.args("r=2,dropout=0.25");
        LoraConfig c = LoraConfig.parse(args);
        args.finish();
        assertEquals(0.25, c.dropout());
    }
}
