package org.peft4j.adapters.bottleneck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.ModelShape;
import org.peft4j.models.ModelConfig;

/** String and JSON forms, presets and aliases, AdapterHub config recognition, and trainable shapes. */
class BottleneckConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final ModelConfig BERT_BASE = ModelConfig.parse("""
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 30522}""", "bert-base");

    static BottleneckConfig parse(String spec) { return (BottleneckConfig) MethodRegistry.parse(spec).get(0); }

    static long count(String spec, ModelConfig model) {
        BottleneckConfig c = parse(spec);
        Map<String, int[]> shapes = MethodRegistry.method(c.method()).parameterShapes(ModelShape.of(model), "x", c);
        long n = 0;
        for (int[] s : shapes.values()) {
            long k = 1;
            for (int d : s) k *= d;
            n += k;
        }
        return n;
    }

    @Test
    void seqBnOnBertBaseHasTheDocumentedTrainableCount() {
        assertEquals(894_528, count("seq_bn", BERT_BASE));
        assertEquals(894_528, count("pfeiffer", BERT_BASE));
        // Houlsby: two adapters per layer, each 2·768·48 + 48 + 768.
        assertEquals(2 * 894_528, count("houlsby", BERT_BASE));
        // par_bn: rf 2 → 384; 2·768·384 + 384 + 768 per layer.
        assertEquals(12L * (2 * 768 * 384 + 384 + 768), count("par_bn", BERT_BASE));
        assertEquals(12L * (2 * 768 * 384 + 384 + 768 + 1), count("scaled_par_bn", BERT_BASE));
        // Compacter: m = 24, n = 4, r = 1: down W_left 4·192 + W_right 4·6 + b 24, up 4·6 + 4·192 + 768, one 4×4×4 rule.
        long perAdapter = 4 * 192 + 4 * 6 + 24 + 4 * 6 + 4 * 192 + 768;
        assertEquals(64 + 24 * perAdapter, count("compacter", BERT_BASE));
        assertEquals(64 + 12 * perAdapter, count("compacter++", BERT_BASE));
    }

    @Test
    void presetsHaveTheDesignDefaults() {
        BottleneckConfig seq = parse("seq_bn");
        assertEquals(List.of(Location.FFN), seq.locations());
        assertEquals(16, seq.reductionFactor().forLayer(0));
        assertEquals("relu", seq.nonLinearity());
        assertTrue(seq.originalLnBefore() && seq.originalLnAfter());
        BottleneckConfig houlsby = parse("houlsby");
        assertEquals("double_seq_bn", houlsby.method());
        assertEquals(List.of(Location.ATTENTION, Location.FFN), houlsby.locations());
        assertEquals("swish", houlsby.nonLinearity());
        assertFalse(houlsby.originalLnBefore());
        BottleneckConfig par = parse("parallel");
        assertEquals("par_bn", par.method());
        assertTrue(par.isParallel());
        assertEquals(2, par.reductionFactor().forLayer(0));
        assertEquals(Scaling.fixed(4.0), par.scaling());
        assertEquals("mam_adapter", par.initWeights());
        assertEquals(Scaling.Mode.LEARNED, parse("scaled_par_bn").scaling().mode());
        BottleneckConfig compacter = parse("compacter");
        assertTrue(compacter.phm().layer() && compacter.phm().sharedRule() && compacter.phm().factorizedW() && compacter.phm().bias());
        assertEquals(4, compacter.phm().dim());
        assertEquals(1, compacter.phm().rank());
        assertEquals(32, compacter.reductionFactor().forLayer(0));
        assertEquals("gelu", compacter.nonLinearity());
        assertEquals(List.of(Location.ATTENTION, Location.FFN), compacter.locations());
        assertEquals(List.of(Location.FFN), parse("compacter++").locations());
        assertTrue(parse("compacter++").originalLnBefore());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "seq_bn", "double_seq_bn[reduction_factor=32,non_linearity=gelu]",
        "seq_bn[reduction_factor={\"1\": 8, \"default\": 16},leave_out=0|3,use_gating=true,dropout=0.1]",
        "par_bn[scaling=channel,ln_before=true,ln_after=true,init_weights=houlsby]",
        "seq_bn[residual_before_ln=post_add,adapter_residual_before_ln=true,init_weights_seed=7]",
        "compacter[phm_dim=8,phm_rank=2,shared_phm_rule=false,factorized_phm_W=false,phm_c_init=uniform]",
        "compacter++[reduction_factor=4,hypercomplex_nonlinearity=normal,phm_init_range=0.01,phm_bias=false]"})
    void stringAndJsonFormsRoundTrip(String spec) {
        BottleneckConfig c = parse(spec);
        assertEquals(c, parse(c.toSpec()), "string form " + c.toSpec());
        assertEquals(c, MethodRegistry.method(c.method()).fromJson(c.toJson()), "JSON form " + c.toJson());
    }

    @Test
    void stringFormListsOnlyChangedFields() {
        assertEquals("seq_bn", parse("pfeiffer").toSpec());
        assertEquals("double_seq_bn[reduction_factor=32,non_linearity=gelu]", parse("double_seq_bn[non_linearity=gelu,reduction_factor=32]").toSpec());
    }

    @Test
    void perLayerReductionFactor() {
        BottleneckConfig c = parse("seq_bn[reduction_factor={\"1\": 8, \"default\": 16}]");
        assertEquals(48, c.reductionFactor().downSize(768, 0));
        assertEquals(96, c.reductionFactor().downSize(768, 1));
        BottleneckConfig noDefault = parse("seq_bn[reduction_factor={\"0\": 8}]");
        Exception e = assertThrows(IllegalArgumentException.class, () -> count("seq_bn[reduction_factor={\"0\": 8}]", BERT_BASE));
        assertTrue(e.getMessage().contains("layer 1") && e.getMessage().contains("default"), e.getMessage());
        assertEquals(96, noDefault.reductionFactor().downSize(768, 0));
    }

    @Test
    void leaveOutSkipsLayers() {
        assertEquals(894_528 / 12 * 10, count("seq_bn[leave_out=0|11]", BERT_BASE));
    }

    @Test
    void errorsNameTheField() {
        Exception unknown = assertThrows(IllegalArgumentException.class, () -> parse("seq_bn[rank=4]"));
        assertTrue(unknown.getMessage().contains("rank") && unknown.getMessage().contains("reduction_factor"), unknown.getMessage());
        assertMessage(() -> parse("seq_bn[scaling=big]"), "scaling");
        assertMessage(() -> parse("seq_bn[non_linearity=softsign]"), "softsign");
        assertMessage(() -> parse("seq_bn[init_weights=xavier]"), "init_weights");
        assertMessage(() -> parse("seq_bn[mh_adapter=false,output_adapter=false]"), "nowhere");
        assertMessage(() -> parse("seq_bn[reduction_factor={\"x\": 2}]"), "reduction_factor");
        assertMessage(() -> parse("seq_bn[stochastic_depth=0.1]"), "stochastic_depth");
        assertMessage(() -> parse("compacter[learn_phm=false]"), "learn_phm");
        assertMessage(() -> parse("compacter[shared_W_phm=true]"), "shared_W_phm");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
        Exception ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(part), ex.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"seq_bn, seq_bn", "double_seq_bn, double_seq_bn", "par_bn, par_bn", "scaled_par_bn, scaled_par_bn",
        "seq_bn_gelu_rf8, seq_bn", "compacter, compacter", "compacterpp, compacter++"})
    void adapterHubConfigsAreRecognisedByTheirFields(String caseName, String method) throws IOException {
        JsonNode config = JSON.readTree(AdapterHubCases.caseDir("bert", caseName).resolve("adapter_config.json").toFile()).get("config");
        assertEquals(method, BottleneckConfig.methodOf(config));
        MethodConfig c = AdapterHubCases.methodFor(config).fromAdapterHubConfig(config);
        assertEquals(method, c.method());
        if (caseName.equals("seq_bn_gelu_rf8")) assertEquals("seq_bn[reduction_factor=8,non_linearity=gelu]", ((BottleneckConfig) c).toSpec());
        if (caseName.startsWith("compacter")) assertEquals(method + "[reduction_factor=4]", ((BottleneckConfig) c).toSpec());
    }

    @Test
    void nonBottleneckAdapterHubConfigsAreNotClaimed() throws IOException {
        for (String other : List.of("lora", "ia3", "prefix_tuning")) {
            JsonNode config = JSON.readTree(AdapterHubCases.caseDir("bert", other).resolve("adapter_config.json").toFile()).get("config");
            assertEquals(null, BottleneckConfig.methodOf(config), other);
        }
    }

    @Test
    void adapterHubKeysMapToTreeNames() {
        BottleneckMethod m = (BottleneckMethod) MethodRegistry.method("seq_bn");
        assertEquals("encoder.layer.0.output.adapters.a.adapter_down.0.weight",
                m.treeName("encoder.layer.0.output.adapters.a.adapter_down.0.weight", "a"));
        assertEquals("model.layers.1.attention_adapters.a.adapter_up.bias",
                m.treeName("model.layers.1.attention_adapters.adapters.a.adapter_up.bias", "a"));
        assertEquals("shared_parameters.a.phm_rule", m.treeName("model.shared_parameters.a.phm_rule", "a"));
        assertEquals("encoder.layer.0.output.adapters.a.adapter_down.0.bias",
                m.treeName("encoder.layer.0.output.adapters.a.adapter_norm_before.bias", "a"));
        assertEquals(null, m.treeName("encoder.layer.0.output.adapters.b.adapter_up.weight", "a"));
        assertEquals(null, m.treeName("encoder.layer.0.attention.self.query.loras.a.lora_A", "a"));
        assertEquals(null, m.treeName("encoder.layer.0.output.adapter_fusion_layer.a,b.query.weight", "a"));
        ModelConfig llama = ModelConfig.parse("""
                {"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 64, "vocab_size": 512}""", "llama");
        assertEquals("model.layers.1.attention_adapters.adapters.a.adapter_up.bias",
                m.adapterHubKey("model.layers.1.attention_adapters.a.adapter_up.bias", "a", llama));
        assertEquals("model.shared_parameters.a.phm_rule", m.adapterHubKey("shared_parameters.a.phm_rule", "a", llama));
        assertEquals("shared_parameters.a.phm_rule", m.adapterHubKey("shared_parameters.a.phm_rule", "a", BERT_BASE));
    }

    @Test
    void compacterSizesMustBeDivisibleByPhmDim() {
        ModelConfig odd = ModelConfig.parse("""
                {"model_type": "bert", "hidden_size": 30, "num_hidden_layers": 2, "num_attention_heads": 3,
                 "intermediate_size": 64, "vocab_size": 100}""", "odd");
        Exception e = assertThrows(IllegalArgumentException.class, () -> count("compacter[reduction_factor=2]", odd));
        assertTrue(e.getMessage().contains("phm_dim 4") && e.getMessage().contains("30"), e.getMessage());
        Exception down = assertThrows(IllegalArgumentException.class, () -> count("compacter[reduction_factor=128]", BERT_BASE));
        assertTrue(down.getMessage().contains("output size"), down.getMessage());
    }
}
