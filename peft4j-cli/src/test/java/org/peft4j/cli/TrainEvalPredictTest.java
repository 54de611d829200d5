package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.Tensor;

/**
 * {@code train}, {@code eval} and {@code predict} end to end on the built-in MiniLM and a 16-example
 * JSONL file: one epoch of three steps, so that the files and numbers are checked, not the learning.
 */
class TrainEvalPredictTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static Path run;
    static Path data;
    static Cli trained;

    @BeforeAll
    static void train() throws IOException {
        data = Cli.spamHamJsonl(tmp, 8);
        run = tmp.resolve("run");
        trained = Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--method", "lora[r=4]",
                "--epochs", "1", "--batch-size", "4", "--max-length", "32", "--output", run.toString()).ok();
    }

    @Test
    void trainWritesTheAdapterAndMetrics() throws IOException {
        for (String f : List.of("adapter/adapter_config.json", "adapter/adapter.safetensors", "adapter/head_config.json",
                "adapter/head.safetensors", "metrics.json", "metrics.jsonl", "run.json", "checkpoint")) {
            assertTrue(Files.exists(run.resolve(f)), f);
        }
        JsonNode m = JSON.readTree(run.resolve("metrics.json").toFile());
        for (String field : List.of("accuracy", "macro_f1", "loss", "trainable_parameters", "total_parameters", "wall_seconds",
                "peak_rss_bytes")) {
            assertTrue(m.hasNonNull(field), field + " in " + m);
        }
        assertEquals(12, m.get("train_examples").asInt(), "16 examples split 80/10/10 per class");
        assertEquals(2, m.get("test_examples").asInt());
        long trainable = m.get("trainable_parameters").asLong();
        // LoRA r=4 on query and value of 6 layers (2 × 4 × 384 each) plus the head (384 × 2 + 2)
        assertEquals(6 * 2 * 2 * 4 * 384 + 384 * 2 + 2, trainable);
        assertTrue(m.get("total_parameters").asLong() > 22_000_000);
        assertTrue(m.get("peak_rss_bytes").asLong() > 0);

        JsonNode info = JSON.readTree(run.resolve("run.json").toFile());
        assertEquals("builtin:all-minilm-l6-v2", info.get("model").asText());
        assertEquals(data.toAbsolutePath().normalize().toString(), info.get("data").asText());
        assertEquals(32, info.get("max_length").asInt());

        assertTrue(trained.out.contains("step 3/3"), trained.out);
        assertTrue(trained.out.contains("epoch 1 dev   accuracy "), trained.out);
        assertTrue(trained.out.contains("test          accuracy "), trained.out);
        assertFalse(trained.out.contains("\r"), "no terminal, no redrawn bar");
    }

    @Test
    void evalReproducesTheTestMetricsOfTrain() throws IOException {
        Cli r = Cli.run("eval", "--adapter", run.toString(), "--json").ok();
        JsonNode e = JSON.readTree(r.out);
        JsonNode m = JSON.readTree(run.resolve("metrics.json").toFile());
        assertEquals("test", e.get("split").asText());
        assertEquals(2, e.get("examples").asInt());
        assertEquals(m.get("accuracy").asDouble(), e.get("metrics").get("accuracy").asDouble(), 1e-9);
        assertEquals(m.get("loss").asDouble(), e.get("metrics").get("loss").asDouble(), 1e-5);

        Cli all = Cli.run("eval", "--adapter", run.resolve("adapter").toString(), "--split", "all").ok();
        assertTrue(all.out.contains("16 examples"), all.out);
        assertTrue(all.out.matches("(?s).*accuracy +\\d\\.\\d{4}\n.*"), all.out);
    }

    @Test
    void predictLabelsTheLinesOfStandardInput() throws IOException {
        Cli r = Cli.runWithInput("Claim your FREE prize now\n\nThe meeting moved to Tuesday\n", "predict", "--adapter", run.toString(), "--json").ok();
        List<String> lines = r.out.lines().toList();
        assertEquals(2, lines.size(), r.out);
        JsonNode first = JSON.readTree(lines.get(0));
        assertEquals("Claim your FREE prize now", first.get("text").asText());
        assertTrue(List.of("ham", "spam").contains(first.get("label").asText()));
        double sum = first.get("probabilities").get("ham").asDouble() + first.get("probabilities").get("spam").asDouble();
        assertEquals(1.0, sum, 1e-5);
        assertEquals(first.get("probability").asDouble(), first.get("probabilities").get(first.get("label").asText()).asDouble());
        assertTrue(r.err.contains("adapter  "), "messages go to standard error: " + r.err);

        Cli plain = Cli.run("predict", "--adapter", run.toString(), "Lunch on Friday?").ok();
        assertTrue(plain.out.matches("(ham |spam)  0\\.\\d{4}  Lunch on Friday\\?\n"), plain.out);
    }

    @Test
    void resumingAFinishedRunGivesItsMetricsAgain() throws IOException {
        JsonNode before = JSON.readTree(run.resolve("metrics.json").toFile());
        Cli r = Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--method", "lora[r=4]",
                "--epochs", "1", "--batch-size", "4", "--max-length", "32", "--output", run.toString(), "--resume").ok();
        assertTrue(r.out.contains("resuming from the checkpoint after step 3"), r.out);
        JsonNode after = JSON.readTree(run.resolve("metrics.json").toFile());
        assertEquals(before.get("accuracy"), after.get("accuracy"));
        assertEquals(before.get("loss").asDouble(), after.get("loss").asDouble(), 1e-6);
    }

    @Test
    void predictWithoutTextsSaysSo() {
        Cli r = Cli.run("predict", "--adapter", run.toString());
        assertEquals(1, r.exitCode);
        assertTrue(r.err.contains("no text to label"), r.err);
    }

    @Test
    void trainFromAFrozenAdapterTrainsOnlyTheNewHead() throws IOException {
        Path probe = tmp.resolve("probe");
        Cli r = Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--from", run.toString(),
                "--freeze-adapter", "--lr", "1e-2", "--epochs", "1", "--batch-size", "4", "--max-length", "32", "--output", probe.toString()).ok();
        assertTrue(r.out.contains("frozen: only the head trains"), r.out);
        JsonNode m = JSON.readTree(probe.resolve("metrics.json").toFile());
        assertEquals(384 * 2 + 2, m.get("trainable_parameters").asLong());
        try (SafetensorsCheckpoint a = SafetensorsCheckpoint.open(run.resolve("adapter/adapter.safetensors"));
             SafetensorsCheckpoint b = SafetensorsCheckpoint.open(probe.resolve("adapter/adapter.safetensors"))) {
            Map<String, Tensor> before = a.tensors(), after = b.tensors();
            assertEquals(before.keySet(), after.keySet());
            before.forEach((n, t) -> assertArrayEquals(t.toFloatArray(), after.get(n).toFloatArray(), n + " stayed as trained"));
        }
        assertEquals("lora[r=4]", JSON.readTree(probe.resolve("run.json").toFile()).get("method").asText());
        Cli e = Cli.run("eval", "--adapter", probe.toString(), "--json").ok();
        assertEquals(m.get("accuracy").asDouble(), JSON.readTree(e.out).get("metrics").get("accuracy").asDouble(), 1e-9);

        Path tuned = tmp.resolve("tuned");
        Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--from", run.toString(),
                "--epochs", "1", "--batch-size", "4", "--max-length", "32", "--output", tuned.toString()).ok();
        assertEquals(6 * 2 * 2 * 4 * 384 + 384 * 2 + 2, JSON.readTree(tuned.resolve("metrics.json").toFile()).get("trainable_parameters").asLong(),
                "without --freeze-adapter the loaded adapter trains on");
    }

    @Test
    void trainNeedsEitherAMethodOrAnAdapterToStartFrom() {
        Cli r = Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--output", tmp.resolve("x").toString());
        assertEquals(1, r.exitCode);
        assertTrue(r.err.contains("either --method"), r.err);
        Cli f = Cli.run("train", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--method", "seq_bn",
                "--freeze-adapter", "--output", tmp.resolve("y").toString());
        assertTrue(f.err.contains("--freeze-adapter needs --from"), f.err);
    }
}
