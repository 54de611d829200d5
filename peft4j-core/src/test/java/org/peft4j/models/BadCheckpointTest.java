package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.Tensor;

/**
 * A checkpoint that does not match its config fails with one error that names the file and lists
 * every problem, so a user fixes them all in one go.
 */
class BadCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    void unknownModelTypeNamesTheConfigAndTheSupportedTypes() throws IOException {
        Path dir = FixtureModels.copy("bert", tmp.resolve("falcon"), c -> c.put("model_type", "falcon"), t -> {});
        Exception e = assertThrows(Exception.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("config.json").toString(), "'falcon'", "bert", "roberta", "gpt2", "llama", "qwen2");
    }

    @Test
    void missingTensorsAreListedTogether() throws IOException {
        Path dir = FixtureModels.copy("bert", tmp.resolve("missing"), c -> {}, t -> {
            t.remove("encoder.layer.1.attention.self.key.weight");
            t.remove("embeddings.LayerNorm.bias");
        });
        Exception e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("model.safetensors").toString(), "missing tensors",
                "encoder.layer.1.attention.self.key.weight", "embeddings.LayerNorm.bias");
        assertEquals(1, count(e.getMessage(), "missing tensors"), e.getMessage());
    }

    @Test
    void unexpectedTensorsAreListedTogether() throws IOException {
        Path dir = FixtureModels.copy("llama", tmp.resolve("unexpected"), c -> {}, t -> {
            t.put("model.layers.0.self_attn.q_norm.weight", Tensor.zeros(8));
            t.put("model.layers.7.mlp.up_proj.weight", Tensor.zeros(64, 32));
        });
        Exception e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("model.safetensors").toString(), "unexpected tensors",
                "model.layers.0.self_attn.q_norm.weight", "model.layers.7.mlp.up_proj.weight");
    }

    @Test
    void wronglyShapedTensorsAreListedWithBothShapes() throws IOException {
        Path dir = FixtureModels.copy("gpt2", tmp.resolve("shapes"), c -> {}, t -> {
            t.put("h.0.attn.c_attn.weight", Tensor.zeros(96, 32));
            t.put("ln_f.bias", Tensor.zeros(31));
        });
        Exception e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("model.safetensors").toString(),
                "transformer.h.0.attn.c_attn.weight' has shape [96, 32] but the config needs [32, 96]",
                "transformer.ln_f.bias' has shape [31] but the config needs [32]");
    }

    @Test
    void everyKindOfProblemInOneError() throws IOException {
        Path dir = FixtureModels.copy("qwen2", tmp.resolve("all"), c -> {}, t -> {
            t.remove("model.layers.1.self_attn.v_proj.bias");
            t.remove("model.norm.weight");
            t.put("lm_head.extra", Tensor.zeros(4));
            t.put("model.layers.0.mlp.down_proj.weight", Tensor.zeros(32, 63));
        });
        Exception e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("model.safetensors").toString(), "model.layers.1.self_attn.v_proj.bias",
                "model.norm.weight", "lm_head.extra", "model.layers.0.mlp.down_proj.weight' has shape [32, 63]");
    }

    @Test
    void configThatIsNotJsonNamesTheFile() throws IOException {
        Path dir = FixtureModels.copy("bert", tmp.resolve("notjson"), c -> {}, t -> {});
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\", \"hidden_size\": 32,");
        Exception e = assertThrows(IOException.class, () -> ModelLoader.load(dir));
        assertMentions(e, dir.resolve("config.json").toString(), "not valid JSON");
    }

    @Test
    void missingOrMistypedFieldsNameTheFileAndField() throws IOException {
        Path noHidden = FixtureModels.copy("bert", tmp.resolve("nohidden"), c -> c.remove("hidden_size"), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(noHidden)),
                noHidden.resolve("config.json").toString(), "missing field 'hidden_size'");
        Path textLayers = FixtureModels.copy("llama", tmp.resolve("textlayers"), c -> c.put("num_hidden_layers", "two"), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(textLayers)),
                textLayers.resolve("config.json").toString(), "'num_hidden_layers'", "integer");
        Path noType = FixtureModels.copy("gpt2", tmp.resolve("notype"), c -> c.remove("model_type"), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(noType)),
                noType.resolve("config.json").toString(), "'model_type'");
        Path act = FixtureModels.copy("bert", tmp.resolve("act"), c -> c.put("hidden_act", "mish2"), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(act)),
                act.resolve("config.json").toString(), "'hidden_act'", "mish2", "gelu");
        Path heads = FixtureModels.copy("llama", tmp.resolve("kvheads"), c -> c.put("num_key_value_heads", 3), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(heads)),
                heads.resolve("config.json").toString(), "num_key_value_heads 3");
        Path rope = FixtureModels.copy("llama", tmp.resolve("rope"), c -> c.putObject("rope_parameters")
                .put("rope_type", "yarn").put("rope_theta", 10000.0), t -> {});
        assertMentions(assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(rope)),
                rope.resolve("config.json").toString(), "yarn");
    }

    @Test
    void folderWithoutConfigOrWeightsSaysWhatIsMissing() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertMentions(assertThrows(IOException.class, () -> ModelLoader.load(empty)), "config.json");
        Path noWeights = FixtureModels.copy("bert", tmp.resolve("noweights"), c -> {}, t -> {});
        Files.delete(noWeights.resolve("model.safetensors"));
        assertMentions(assertThrows(IOException.class, () -> ModelLoader.load(noWeights)), "model.safetensors");
    }

    private static void assertMentions(Exception e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(p),
                    "message should mention \"" + p + "\":\n" + e.getMessage());
        }
    }

    private static int count(String text, String part) {
        return text.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }
}
