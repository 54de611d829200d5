package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.models.bert.BertModel;
import org.peft4j.tensor.DType;
import org.peft4j.tokenizer.HfTokenizer;

class ModelSourceTest {
    private static final String MINILM = "builtin:all-minilm-l6-v2";
    /** bert-base-uncased WordPiece ids of "[CLS] hello world [SEP]". */
    private static final long[] HELLO_WORLD = {101, 7592, 2088, 102};

    @Test
    void builtinNameSelectsTheEmbeddedMiniLm() throws IOException {
        ModelSource s = ModelSource.resolve(MINILM);
        assertTrue(s.isBuiltin());
        assertTrue(s.path().isEmpty());
        try (PretrainedModel pm = ModelLoader.load(MINILM, ModelLoader.WeightStorage.AS_STORED)) {
            BertModel bert = (BertModel) pm.model();
            assertEquals(384, pm.config().hiddenSize());
            assertEquals(6, bert.numLayers());
            assertEquals(12, pm.config().numHeads());
            assertFalse(bert.hasPooler(), "the ONNX export has no pooler");
            assertEquals(DType.F32, pm.model().namedParameters().get("encoder.layer.0.attention.self.query.weight").dtype());
            assertEquals(pm.config(), s.config(), "config() alone agrees with the loaded model's");
        }
    }

    @Test
    void unknownBuiltinIsAnErrorListingTheBuiltins() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelSource.resolve("builtin:bert-large"));
        assertTrue(e.getMessage().contains("builtin:bert-large"), e.getMessage());
        assertTrue(e.getMessage().contains(MINILM), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelSource.resolve("builtin:"));
        assertThrows(IllegalArgumentException.class, () -> ModelSource.resolve(" "));
    }

    @Test
    void anyOtherStringIsACheckpointFolder() throws IOException {
        String folder = FixtureModels.base("bert").toString();
        ModelSource s = ModelSource.resolve(folder);
        assertFalse(s.isBuiltin());
        assertEquals(Path.of(folder), s.path().orElseThrow());
        assertEquals(32, s.config().hiddenSize());
        try (PretrainedModel pm = ModelLoader.load(folder, ModelLoader.WeightStorage.AS_STORED)) {
            assertEquals(2, ((BertModel) pm.model()).numLayers());
        }
        IOException missing = assertThrows(IOException.class,
                () -> ModelLoader.load("no/such/folder", ModelLoader.WeightStorage.AS_STORED));
        assertTrue(missing.getMessage().contains("no/such/folder"), missing.getMessage());
    }

    @Test
    void configAloneAcceptsAConfigFile() throws IOException {
        ModelSource s = ModelSource.resolve(FixtureModels.base("llama").resolve("config.json").toString());
        assertEquals(Architecture.LLAMA, s.config().architecture());
    }

    @Test
    void builtinTokenizerIsTheJarsWordPiece() throws IOException {
        try (HfTokenizer t = ModelSource.resolve(MINILM).tokenizer()) {
            assertArrayEquals(HELLO_WORLD, t.encode("Hello world"));
            assertEquals(30522, t.vocabSize());
        }
    }

    @Test
    void folderTokenizerIsItsTokenizerJson(@TempDir Path dir) throws IOException {
        IOException none = assertThrows(IOException.class, () -> ModelSource.of(dir).tokenizer());
        assertTrue(none.getMessage().contains("tokenizer.json") && none.getMessage().contains(dir.toString()), none.getMessage());
        Files.write(dir.resolve("tokenizer.json"), BuiltinMiniLm.tokenizerJson());
        try (HfTokenizer t = ModelSource.resolve(dir.toString()).tokenizer()) {
            assertArrayEquals(HELLO_WORLD, t.encode("Hello world"));
        }
    }

    @Test
    void builtinLoadsInBf16() throws IOException {
        try (PretrainedModel pm = ModelSource.resolve(MINILM).load(ModelLoader.WeightStorage.BF16)) {
            var p = pm.model().namedParameters();
            assertEquals(DType.BF16, p.get("encoder.layer.5.output.dense.weight").dtype());
            assertEquals(DType.BF16, p.get("embeddings.word_embeddings.weight").dtype());
            assertEquals(DType.F32, p.get("encoder.layer.5.output.dense.bias").dtype());
            assertEquals(DType.F32, p.get("embeddings.LayerNorm.weight").dtype());
        }
    }

    @Test
    void builtinListIsPublic() {
        assertEquals(List.of("all-minilm-l6-v2"), ModelSource.BUILTINS);
    }
}
