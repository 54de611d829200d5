package org.peft4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.bitfit.BitFitConfig;

/** The string form: fields, lists, unions, and the errors a mistyped specification gets. */
class MethodSpecTest {
    @Test
    void parsesFieldsListsAndUnions() {
        List<MethodSpec> specs = MethodSpec.parse("prefix_tuning[prefix_length=20]|par_bn[reduction_factor=4,leave_out=0|1]");
        assertEquals(2, specs.size());
        assertEquals(new MethodSpec("prefix_tuning", Map.of("prefix_length", "20")), specs.get(0));
        assertEquals(Map.of("reduction_factor", "4", "leave_out", "0|1"), specs.get(1).args());
        assertEquals("par_bn[reduction_factor=4,leave_out=0|1]", specs.get(1).toString());
        assertEquals(List.of(new MethodSpec("lora", Map.of())), MethodSpec.parse(" lora "));
    }

    @Test
    void aBareItemContinuesTheFieldBeforeIt() {
        assertEquals(Map.of("biases", "query|intermediate", "add_missing", "true"),
                MethodSpec.parse("bitfit[biases=query,intermediate,add_missing=true]").get(0).args());
        // the form DESIGN.md writes
        BitFitConfig c = (BitFitConfig) MethodRegistry.parse("bitfit[biases=query,intermediate]").get(0);
        assertEquals(List.of("query", "intermediate"), c.biases());
    }

    @Test
    void mistakesAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse("lora[8]")).getMessage()
                .contains("'8' in 'lora[8]' is not key=value"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse("lora[r=8,r=4]")).getMessage()
                .contains("field 'r' given twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse("lora[r=8")).getMessage()
                .contains("unbalanced '['"));
        assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse("lora||seq_bn"));
    }
}
