package org.peft4j.adapters.compacter;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.bottleneck.AdapterHubCases;

/**
 * AdapterHub's Compacter fixtures ({@code compacter[phm_dim=4,reduction_factor=4]} and
 * {@code compacter++}): output, loss and the gradients of every PHM factor, bias and the shared rule.
 */
class CompacterFixtureTest {
    @ParameterizedTest(name = "{0}/{1}")
    @CsvSource({"bert, compacter", "bert, compacterpp", "roberta, compacter", "roberta, compacterpp", "llama, compacter", "llama, compacterpp"})
    void matchesAdapterHub(String arch, String caseName) throws IOException {
        Map<String, Double> errors = AdapterHubCases.runCase(arch, caseName);
        assertTrue(errors.keySet().stream().anyMatch(k -> k.endsWith(".phm_rule")), "the shared rule's gradient is checked");
        AdapterHubCases.assertWithinTolerance(arch + "/" + caseName, errors);
    }
}
