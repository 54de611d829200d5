package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SummaryCommandTest {
    private static final String BERT_BASE = """
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512,
             "type_vocab_size": 2}""";
    private static final String LLAMA_2_7B = """
            {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
             "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000,
             "tie_word_embeddings": false, "rms_norm_eps": 1e-5}""";

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    @TempDir
    Path tmp;

    private int run(String... args) { return Main.run(out, err, args); }

    private String out() { return outBytes.toString(StandardCharsets.UTF_8); }

    private String err() { return errBytes.toString(StandardCharsets.UTF_8); }

    private Path config(String name, String json) throws IOException {
        return Files.writeString(tmp.resolve(name), json);
    }

    @Test
    void bertBaseHas109MillionFrozenParameters() throws IOException {
        assertEquals(0, run("summary", "--model", config("bert.json", BERT_BASE).toString()), err());
        String text = out();
        assertTrue(text.contains("\ntotal      109,482,240\n"), text);
        assertTrue(text.contains("\ntrainable  0 (0.00%)\n"), text);
        assertTrue(text.matches("(?s).*\ngroup +parameters +trainable\n.*"), text);
        // word, position and token-type embeddings: (30522 + 512 + 2) * 768, plus the LayerNorm's 2 * 768
        assertTrue(text.matches("(?s).*\nembeddings +23,837,184 +0\n.*"), text);
        assertEquals("", err());
    }

    @Test
    void aFolderIsReadThroughItsConfigJson() throws IOException {
        Path folder = Files.createDirectories(tmp.resolve("llama-7b"));
        config("llama-7b/config.json", LLAMA_2_7B);
        assertEquals(0, run("summary", "--model", folder.toString()), err());
        assertTrue(out().contains("\ntotal      6,738,415,616\n"), out());
        // untied: the LM head is its own 32000 x 4096 matrix
        assertTrue(out().matches("(?s).*\nlm_head +131,072,000 +0\n.*"), out());
    }

    @Test
    void jsonIsOneObjectWithTotalTrainableAndGroups() throws IOException {
        assertEquals(0, run("summary", "--model", config("llama.json", LLAMA_2_7B).toString(), "--json"), err());
        JsonNode json = new ObjectMapper().readTree(out());
        assertEquals(6_738_415_616L, json.get("total").asLong());
        assertEquals(0, json.get("trainable").asLong());
        assertEquals("llama", json.get("model_type").asText());
        long sum = 0;
        for (JsonNode g : json.get("groups")) sum += g.get("total").asLong();
        assertEquals(6_738_415_616L, sum, "the groups add up to the total");
        assertEquals(4096L * 32000, json.get("groups").get("lm_head").get("total").asLong());
    }

    @Test
    void aMissingFileIsOneLineError() {
        Path missing = tmp.resolve("nope/config.json");
        assertEquals(1, run("summary", "--model", missing.toString()));
        assertEquals("peft4j: no such file: " + missing + " (--verbose shows the stack trace)\n", err());
        assertEquals("", out());
    }

    @Test
    void anUnknownMethodIsRefused() throws IOException {
        assertEquals(1, run("summary", "--model", config("bert.json", BERT_BASE).toString(), "--method", "nosuch[r=8]"));
        assertTrue(err().startsWith("peft4j: unknown method 'nosuch'"), err());
        assertEquals(1, err().lines().count(), err());
        assertEquals("", out(), "no counts are printed for a method that cannot be counted");
    }

    @Test
    void modelIsRequired() {
        assertEquals(2, run("summary"));
        assertTrue(err().contains("Missing required option: '--model=MODEL'"), err());
    }

    @Test
    void helpNeedsNoModel() {
        assertEquals(0, run("summary", "--help"));
        assertTrue(out().contains("Usage: peft4j summary"), out());
    }

    @Test
    void parsesOptions() {
        var summary = assertInstanceOf(SummaryCommand.class, Main.commandLine(out, err)
                .parseArgs("summary", "--model", "m", "--method", "lora[r=4]", "--json").subcommand()
                .commandSpec().userObject());
        assertEquals("m", summary.model);
        assertEquals("lora[r=4]", summary.method);
        assertTrue(summary.json);
    }
}
