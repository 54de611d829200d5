package org.peft4j.adapters.prefix;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.testing.Fixtures;

/** The PEFT prefix cases and AdapterHub prefix tuning cases of the shared fixtures: output, loss and every gradient. */
class PrefixFixtureTest {
    static final double OUTPUT_TOL = 1e-4;
    static final double GRAD_TOL = 1e-3;

    @ParameterizedTest(name = "hf/{0}/{1}")
    @CsvSource({"bert,prefix", "roberta,prefix", "gpt2,prefix", "llama,prefix", "qwen2,prefix",
            "bert,prefix_proj", "roberta,prefix_proj", "gpt2,prefix_proj", "llama,prefix_proj", "qwen2,prefix_proj"})
    void peftPrefix(String arch, String kase) throws IOException {
        Map<String, Double> errors = AdapterFixture.run(arch, Fixtures.dir("hf").resolve(arch).resolve(kase));
        check("hf/" + arch + "/" + kase, errors, !kase.equals("prefix_proj"));
    }

    @ParameterizedTest(name = "adapterhub/{0}/{1}")
    @CsvSource({"bert,prefix_tuning", "roberta,prefix_tuning", "llama,prefix_tuning",
            "bert,prefix_tuning_flat", "roberta,prefix_tuning_flat", "llama,prefix_tuning_flat"})
    void adapterHubPrefixTuning(String arch, String kase) throws IOException {
        Path dir = Fixtures.dir("adapterhub").resolve(arch).resolve(kase);
        check("adapterhub/" + arch + "/" + kase, AdapterFixture.run(arch, dir), true);
    }

    /** Output and loss within 1e-4, every gradient within 1e-3; {@code gradients}: the file must hold some. */
    static void check(String what, Map<String, Double> errors, boolean gradients) {
        System.out.println(what + " " + errors);
        errors.forEach((k, e) -> assertTrue(e <= (k.startsWith("grad.") ? GRAD_TOL : OUTPUT_TOL), what + ": " + k + " error " + e));
        assertTrue(errors.keySet().stream().anyMatch(k -> k.startsWith("grad.")) == gradients, what + ": gradients compared " + errors.keySet());
        assertFalse(errors.isEmpty());
    }
}
