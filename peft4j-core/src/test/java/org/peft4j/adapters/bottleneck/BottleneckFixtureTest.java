package org.peft4j.adapters.bottleneck;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every AdapterHub bottleneck fixture case: output, loss and every gradient against AdapterHub 1.2.0. */
class BottleneckFixtureTest {
    @ParameterizedTest(name = "{0}/{1}")
    @CsvSource({
        "bert, seq_bn", "bert, double_seq_bn", "bert, par_bn", "bert, scaled_par_bn", "bert, seq_bn_gelu_rf8",
        "roberta, seq_bn", "roberta, double_seq_bn", "roberta, par_bn", "roberta, scaled_par_bn", "roberta, seq_bn_gelu_rf8",
        "llama, seq_bn", "llama, double_seq_bn", "llama, par_bn", "llama, scaled_par_bn", "llama, seq_bn_gelu_rf8"})
    void matchesAdapterHub(String arch, String caseName) throws IOException {
        Map<String, Double> errors = AdapterHubCases.runCase(arch, caseName);
        assertTrue(errors.size() > 2, "the case has gradients");
        AdapterHubCases.assertWithinTolerance(arch + "/" + caseName, errors);
    }
}
