package org.peft4j.adapters.bitfit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;

/** BitFit's string and JSON forms, defaults, and the module-name matching rule of {@code biases}. */
class BitFitConfigTest {

    private static BitFitConfig parse(String spec) {
        List<MethodConfig> configs = MethodRegistry.parse(spec);
        assertEquals(1, configs.size());
        return (BitFitConfig) configs.get(0);
    }

    @Test
    void defaultsTrainEveryBiasAndAddNone() {
        BitFitConfig c = parse("bitfit");
        assertEquals(BitFitConfig.defaults(), c);
        assertTrue(c.allBiases());
        assertFalse(c.addMissing());
        assertEquals("bitfit", c.method());
        assertEquals("{\"biases\":\"all\",\"add_missing\":false}", c.toJson().toString());
    }

    @Test
    void stringFormTakesASubsetAndAddMissing() {
        BitFitConfig c = parse("bitfit[biases=query|intermediate.bias,add_missing=true]");
        assertEquals(List.of("query", "intermediate"), c.biases());
        assertTrue(c.addMissing());
        assertEquals("{\"biases\":[\"query\",\"intermediate\"],\"add_missing\":true}", c.toJson().toString());
    }

    @Test
    void jsonFormRoundTrips() {
        for (String spec : List.of("bitfit", "bitfit[biases=attention.self.query|LayerNorm,add_missing=true]")) {
            BitFitConfig c = parse(spec);
            assertEquals(c, MethodRegistry.method("bitfit").fromJson(c.toJson()));
        }
    }

    @Test
    void badFieldsAreErrorsNamingThem() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> parse("bitfit[bias=query]"));
        assertTrue(unknown.getMessage().contains("bias") && unknown.getMessage().contains("biases")
                && unknown.getMessage().contains("add_missing"), unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> parse("bitfit[add_missing=maybe]"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("bitfit[biases=all|query]"))
                .getMessage().contains("all"));
        assertThrows(IllegalArgumentException.class, () -> parse("bitfit[biases=query|query]"));
        assertThrows(IllegalArgumentException.class, () -> parse("bitfit[biases=.query]"));
        var json = BitFitConfig.defaults().toJson().put("dropout", 0.1);
        assertThrows(IllegalArgumentException.class, () -> MethodRegistry.method("bitfit").fromJson(json));
    }

    @Test
    void entriesMatchWholeDottedComponents() {
        String query = "encoder.layer.3.attention.self.query";
        assertTrue(BitFitConfig.matches(query, query));
        assertTrue(BitFitConfig.matches(query, "query"));
        assertTrue(BitFitConfig.matches(query, "self.query"));
        assertTrue(BitFitConfig.matches(query, "attention"));
        assertTrue(BitFitConfig.matches(query, "layer.3"));
        assertFalse(BitFitConfig.matches(query, "quer"));
        assertFalse(BitFitConfig.matches(query, "layer.3.query"));
        assertFalse(BitFitConfig.matches("encoder.layer.13.output.dense", "layer.3"));
        assertTrue(BitFitConfig.matches("encoder.layer.3.intermediate.dense", "intermediate"));
        BitFitConfig out = parse("bitfit[biases=attention.output]");
        assertTrue(out.selects("encoder.layer.0.attention.output.dense"));
        assertTrue(out.selects("encoder.layer.0.attention.output.LayerNorm"));
        assertFalse(out.selects("encoder.layer.0.output.dense"));
    }
}
