package org.peft4j.adapters.prompt;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.prefix.AdapterFixture;
import org.peft4j.testing.Fixtures;

/** The PEFT prompt tuning cases of the shared fixtures (decoders): output [B, T+n, V], loss, the prompt's gradient. */
class PromptFixtureTest {
    @ParameterizedTest(name = "hf/{0}/prompt")
    @ValueSource(strings = {"gpt2", "llama", "qwen2"})
    void peftPrompt(String arch) throws IOException {
        Map<String, Double> errors = AdapterFixture.run(arch, Fixtures.dir("hf").resolve(arch).resolve("prompt"));
        System.out.println("hf/" + arch + "/prompt " + errors);
        assertTrue(errors.containsKey("grad.prompt_encoder.default.embedding.weight"), errors.toString());
        errors.forEach((k, e) -> assertTrue(e <= (k.startsWith("grad.") ? 1e-3 : 1e-4), arch + ": " + k + " error " + e));
    }
}
