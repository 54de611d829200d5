package org.peft4j.conformance;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.testing.Fixtures;

class ConformanceTest {
    @Test
    void everyBaseModelMatchesTransformers() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        List<CaseResult> results = Conformance.run(Fixtures.dir("hf"), new PrintStream(buf, true, StandardCharsets.UTF_8));
        String report = buf.toString(StandardCharsets.UTF_8);
        List<CaseResult> base = results.stream().filter(r -> r.name().endsWith("/base")).toList();
        assertFalse(base.isEmpty(), report);
        for (String arch : List.of("bert", "roberta", "gpt2", "llama", "qwen2")) {
            assertTrue(base.stream().anyMatch(r -> r.name().equals(arch + "/base")), "no base case for " + arch);
        }
        for (CaseResult r : base) assertTrue(r.passed(), r.line());
    }
}
