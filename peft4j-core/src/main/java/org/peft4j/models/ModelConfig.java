package org.peft4j.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.ops.Activations;

/**
 * The fields of a Hugging Face {@code config.json} that peft4j uses, normalised across the dialects
 * real checkpoints use (BERT's {@code hidden_size} vs GPT-2's {@code n_embd}, a top-level
 * {@code rope_theta} vs transformers-5 {@code rope_parameters}, three spellings of the norm epsilon).
 */
public record ModelConfig(
        String modelType,
        Architecture architecture,
        int hiddenSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int intermediateSize,
        int vocabSize,
        int maxPositions,
        int typeVocabSize,
        double normEps,
        String hiddenAct,
        double ropeTheta,
        boolean tieWordEmbeddings,
        Integer padTokenId,
        Integer bosTokenId,
        List<Integer> eosTokenIds,
        boolean attentionBias,
        boolean attentionOutputBias,
        boolean mlpBias,
        double hiddenDropout,
        String source) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads {@code config.json} from a checkpoint folder or the file itself. */
    public static ModelConfig load(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        if (!Files.exists(file)) throw new IOException(file + ": no config.json");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        return parse(root, file.toString());
    }

    /** Parses {@code config.json} text; {@code source} names it in error messages. */
    public static ModelConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        return parse(root, source);
    }

    /** Parses a config object; {@code source} names it in error messages. */
    public static ModelConfig parse(JsonNode c, String source) {
        if (c == null || !c.isObject()) throw new IllegalArgumentException(source + ": config must be a JSON object");
        Fields f = new Fields(c, source);
        String type = f.string("model_type");
        Architecture arch;
        try {
            arch = Architecture.forModelType(type);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage());
        }
        int hidden = f.integer("hidden_size", "n_embd");
        int layers = f.integer("num_hidden_layers", "n_layer");
        int heads = f.integer("num_attention_heads", "n_head");
        int kvHeads = f.optInt(heads, "num_key_value_heads");
        int headDim = f.optInt(hidden / heads, "head_dim");
        int intermediate = arch == Architecture.GPT2 ? f.optInt(4 * hidden, "n_inner") : f.integer("intermediate_size");
        int vocab = f.integer("vocab_size");
        int maxPos = arch == Architecture.GPT2 ? f.integer("n_positions", "max_position_embeddings")
                : f.optInt(arch == Architecture.LLAMA ? 2048 : 512, "max_position_embeddings");
        int typeVocab = arch == Architecture.BERT ? f.optInt(2, "type_vocab_size") : 0;
        double eps = f.optDouble(arch == Architecture.LLAMA ? 1e-6 : arch == Architecture.GPT2 ? 1e-5 : 1e-12,
                "layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps");
        String act = f.optString(arch == Architecture.GPT2 ? "gelu_new" : arch == Architecture.LLAMA ? "silu" : "gelu",
                "hidden_act", "activation_function");
        try {
            Activations.byName(act);
        } catch (IllegalArgumentException e) {
            String field = c.hasNonNull("hidden_act") ? "hidden_act" : "activation_function";
            throw new IllegalArgumentException(source + ": field '" + field + "': " + e.getMessage());
        }
        double theta = 10000.0;
        if (arch == Architecture.LLAMA) {
            JsonNode rope = c.get("rope_parameters");
            if (rope == null || rope.isNull()) rope = c.get("rope_scaling");
            if (rope != null && rope.isObject()) {
                String ropeType = rope.path("rope_type").asText(rope.path("type").asText("default"));
                if (!ropeType.equals("default")) {
                    throw new IllegalArgumentException(source + ": rope type '" + ropeType
                            + "' is not supported (only the default rotary embedding)");
                }
                if (rope.has("rope_theta")) theta = rope.get("rope_theta").asDouble();
            }
            if (c.has("rope_theta") && !c.get("rope_theta").isNull()) theta = c.get("rope_theta").asDouble();
        }
        boolean tie = f.optBool(arch != Architecture.LLAMA || type.equals("qwen2"), "tie_word_embeddings");
        boolean attnBias = switch (type) {
            case "qwen2" -> true;
            case "llama" -> f.optBool(false, "attention_bias");
            case "mistral" -> false;
            default -> true;
        };
        boolean attnOutBias = type.equals("llama") ? attnBias : arch != Architecture.LLAMA;
        boolean mlpBias = arch == Architecture.LLAMA ? f.optBool(false, "mlp_bias") : true;
        if (hidden % heads != 0 && !c.has("head_dim")) {
            throw new IllegalArgumentException(source + ": hidden_size " + hidden + " is not divisible by "
                    + heads + " attention heads");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(source + ": num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        return new ModelConfig(type, arch, hidden, layers, heads, kvHeads, headDim, intermediate, vocab, maxPos,
                typeVocab, eps, act, theta, tie, f.optInteger("pad_token_id"), f.optInteger("bos_token_id"),
                f.intList("eos_token_id"), attnBias, attnOutBias, mlpBias,
                f.optDouble(0.0, "hidden_dropout_prob", "resid_pdrop"), source);
    }

    /** Typed access to config fields with alternative names and errors that name the file and field. */
    private record Fields(JsonNode c, String source) {
        JsonNode first(String... names) {
            for (String n : names) {
                JsonNode v = c.get(n);
                if (v != null && !v.isNull()) return v;
            }
            return null;
        }

        String string(String name) {
            JsonNode v = first(name);
            if (v == null || !v.isTextual()) throw new IllegalArgumentException(source + ": missing string field '" + name + "'");
            return v.asText();
        }

        int integer(String... names) {
            JsonNode v = first(names);
            if (v == null) throw new IllegalArgumentException(source + ": missing field '" + String.join("' / '", names) + "'");
            if (!v.canConvertToInt() || !v.isIntegralNumber()) {
                throw new IllegalArgumentException(source + ": field '" + names[0] + "' must be an integer, got " + v);
            }
            return v.asInt();
        }

        int optInt(int fallback, String... names) { return first(names) == null ? fallback : integer(names); }

        Integer optInteger(String name) { return first(name) == null ? null : integer(name); }

        double optDouble(double fallback, String... names) {
            JsonNode v = first(names);
            if (v == null) return fallback;
            if (!v.isNumber()) throw new IllegalArgumentException(source + ": field '" + names[0] + "' must be a number");
            return v.asDouble();
        }

        String optString(String fallback, String... names) {
            JsonNode v = first(names);
            return v == null ? fallback : v.asText();
        }

        boolean optBool(boolean fallback, String name) {
            JsonNode v = first(name);
            return v == null ? fallback : v.asBoolean();
        }

        List<Integer> intList(String name) {
            JsonNode v = first(name);
            List<Integer> out = new ArrayList<>();
            if (v == null) return out;
            if (v.isArray()) v.forEach(e -> out.add(e.asInt()));
            else out.add(v.asInt());
            return out;
        }
    }
}
