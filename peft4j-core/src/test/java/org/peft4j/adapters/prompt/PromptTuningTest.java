package org.peft4j.adapters.prompt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.prefix.AdapterFixture;
import org.peft4j.adapters.prefix.TinyModels;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.models.CausalLm;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;
import org.peft4j.tokenizer.HfTokenizer;

/** Prompt tuning on small random decoders: gradients, initialisations, sizes, files and refused settings. */
class PromptTuningTest {
    private static final Tensor IDS = Tensor.of(new long[] {1, 5, 7, 2, 9, 4}, 2, 3);
    private static final Tensor MASK = Tensor.of(new long[] {1, 1, 1, 1, 1, 0}, 2, 3);

    private static PeftModel tinyWith(String type, DType dtype, String spec) {
        PeftModel m = TinyModels.model(TinyModels.config(type, 2), dtype, 3);
        m.addAdapter("p", spec, 11);
        m.setActive("p");
        return m;
    }

    private static Tensor promptWeight(PeftModel m) {
        return m.namedParameters().get("prompt_encoder.p.embedding.weight");
    }

    @Test
    void gradientsThroughLlamaAndGpt2() {
        for (String type : new String[] {"llama", "gpt2"}) {
            PeftModel m = tinyWith(type, DType.F64, "prompt_tuning[num_virtual_tokens=2]");
            GradCheck.check("prompt tuning, " + type, in -> m.logits(IDS, MASK, null), TinyModels.toF64(m, "p"));
        }
    }

    @Test
    void virtualTokensComeFirst() {
        PeftModel m = tinyWith("llama", DType.F32, "prompt[num_virtual_tokens=3]");
        assertEquals(3, m.virtualTokens());
        try (var s = GradMode.noGrad()) {
            assertArrayEquals(new int[] {2, 6, 13}, m.logits(IDS, MASK, null).shape());
            m.deactivate();
            assertArrayEquals(new int[] {2, 3, 13}, m.logits(IDS, MASK, null).shape());
        }
    }

    @Test
    void sampleVocabCopiesEmbeddingRows() {
        PeftModel m = tinyWith("llama", DType.F32, "prompt_tuning[num_virtual_tokens=4,prompt_tuning_init=SAMPLE_VOCAB]");
        Tensor table = m.base().namedParameters().get("model.embed_tokens.weight");
        Tensor w = promptWeight(m);
        for (int i = 0; i < 4; i++) {
            boolean found = false;
            for (int v = 0; v < table.size(0) && !found; v++) {
                boolean same = true;
                for (int j = 0; j < 8; j++) same &= table.get(v, j) == w.get(i, j);
                found = same;
            }
            assertTrue(found, "virtual token " + i + " is a row of the embedding table");
        }
    }

    @Test
    void textInitUsesTheTokenizersIds(@TempDir Path tmp) throws IOException {
        Path tokenizer = tmp.resolve("tokenizer.json");
        Files.write(tokenizer, BuiltinMiniLm.tokenizerJson());
        String text = "classify the sentiment";
        long[] ids;
        try (HfTokenizer t = HfTokenizer.fromFile(tokenizer)) {
            ids = t.encode(text);
        }
        PeftModel m = TinyModels.model(TinyModels.config("gpt2", 4, 30522), DType.F32, 3);
        m.addAdapter("p", "prompt_tuning[num_virtual_tokens=7,prompt_tuning_init=TEXT,prompt_tuning_init_text=" + text
                + ",tokenizer_name_or_path=" + tokenizer + "]", 1);
        long[] repeated = new long[7];
        for (int i = 0; i < 7; i++) repeated[i] = ids[i % ids.length];
        Tensor want;
        try (var s = GradMode.noGrad()) {
            want = ((CausalLm) m.base()).embed(Tensor.of(repeated, 1, 7));
        }
        assertEquals(0.0, AdapterFixture.relError(promptWeight(m), want));

        PeftModel small = TinyModels.model(TinyModels.config("gpt2", 4), DType.F32, 3);
        Exception e = assertThrows(IllegalArgumentException.class, () -> small.addAdapter("p", "prompt_tuning[prompt_tuning_init=TEXT,"
                + "prompt_tuning_init_text=hi,tokenizer_name_or_path=" + tokenizer + "]", 1));
        assertTrue(e.getMessage().contains("outside this model's vocabulary"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> small.addAdapter("p", "prompt_tuning[prompt_tuning_init=TEXT,"
                + "prompt_tuning_init_text=hi,tokenizer_name_or_path=some-org/some-model]", 1));
        assertTrue(e.getMessage().contains("not a local"), e.getMessage());
    }

    @Test
    void shapesMatchInstalledTensors() {
        PeftModel m = tinyWith("gpt2", DType.F32, "prompt_tuning[num_virtual_tokens=5]");
        MethodConfig c = m.adapter("p").configs().get(0);
        Map<String, int[]> shapes = MethodRegistry.method(c.method()).parameterShapes(m.shape(), "p", c);
        assertEquals(m.adapterParameters("p").keySet(), shapes.keySet());
        assertArrayEquals(new int[] {5, 8}, shapes.get("prompt_encoder.p.embedding.weight"));
        assertArrayEquals(new int[] {5, 8}, promptWeight(m).shape());
    }

    @Test
    void roundTripsInBothFormats(@TempDir Path tmp) throws IOException {
        PeftModel m = tinyWith("llama", DType.F32, "prompt_tuning[num_virtual_tokens=3]");
        Tensor before;
        try (var s = GradMode.noGrad()) {
            before = m.logits(IDS, MASK, null);
        }
        for (boolean peft : new boolean[] {true, false}) {
            Path dir = tmp.resolve(peft ? "peft" : "peft4j");
            if (peft) AdapterFiles.savePeft(m, "p", dir);
            else AdapterFiles.save(m, "p", dir);
            PeftModel copy = TinyModels.model(m.config(), DType.F32, 3);
            copy.setActive(AdapterFiles.load(copy, dir, "p").name());
            try (var s = GradMode.noGrad()) {
                assertEquals(0.0, AdapterFixture.relError(copy.logits(IDS, MASK, null), before), 1e-7);
            }
        }
        assertTrue(Files.readString(tmp.resolve("peft").resolve("adapter_config.json")).contains("\"PROMPT_TUNING\""));
    }

    @Test
    void refusedSettings() {
        PeftModel bert = TinyModels.model(TinyModels.config("bert", 4), DType.F32, 3);
        Exception e = assertThrows(IllegalArgumentException.class, () -> bert.addAdapter("p", "prompt_tuning", 1));
        assertTrue(e.getMessage().contains("decoder"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> tinyWith("llama", DType.F32, "prompt_tuning[token_dim=16]"));
        assertTrue(e.getMessage().contains("token_dim is 16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("prompt_tuning[prompt_tuning_init=TEXT]"));
        assertTrue(e.getMessage().contains("prompt_tuning_init_text"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("prompt_tuning[prompt_tuning_init=WORDS]"));
        assertTrue(e.getMessage().contains("SAMPLE_VOCAB"), e.getMessage());
    }
}
