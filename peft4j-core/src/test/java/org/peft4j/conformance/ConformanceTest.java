package org.peft4j.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.testing.Fixtures;

/** Every case of both reference folders: Hugging Face transformers + PEFT, and AdapterHub. */
class ConformanceTest {
    @Test
    void everyHuggingFaceCasePasses() throws Exception {
        List<CaseResult> results = run("hf");
        for (String arch : List.of("bert", "roberta", "gpt2", "llama", "qwen2")) {
            for (String c : List.of("base", "lora", "lora_rslora_bias", "dora", "ia3", "prefix", "prefix_proj", "mixed_ab")) {
                assertTrue(results.stream().anyMatch(r -> r.name().equals(arch + "/" + c)), "no case " + arch + "/" + c);
            }
        }
    }

    @Test
    void everyAdapterHubCasePasses() throws Exception {
        List<CaseResult> results = run("adapterhub");
        for (String arch : List.of("bert", "roberta", "llama")) {
            for (String c : List.of("seq_bn", "double_seq_bn", "par_bn", "scaled_par_bn", "compacter", "compacterpp",
                    "prefix_tuning", "prefix_tuning_flat", "lora", "ia3", "compose:stack_ab", "compose:batchsplit_ab", "compose:fusion")) {
                assertTrue(results.stream().anyMatch(r -> r.name().equals(arch + "/" + c)), "no case " + arch + "/" + c);
            }
        }
    }

    private static List<CaseResult> run(String folder) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        List<CaseResult> results = Conformance.run(Fixtures.dir(folder), new PrintStream(buf, true, StandardCharsets.UTF_8));
        String report = buf.toString(StandardCharsets.UTF_8);
        List<CaseResult> failed = results.stream().filter(r -> !r.passed()).toList();
        assertEquals(List.of(), failed.stream().map(CaseResult::line).toList(), report);
        return results;
    }
}
