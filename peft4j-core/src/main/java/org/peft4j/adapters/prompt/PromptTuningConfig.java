package org.peft4j.adapters.prompt;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;

/**
 * Hugging Face PEFT's prompt tuning ({@code peft_type} PROMPT_TUNING) under PEFT's field names:
 * {@code numVirtualTokens} trainable input embeddings placed before the real tokens.
 *
 * @param numVirtualTokens     virtual tokens (20)
 * @param tokenDim             their width, the model's hidden size (0: from the model)
 * @param init                 RANDOM (standard normal, as PEFT), SAMPLE_VOCAB (embeddings of random
 *                             vocabulary tokens) or TEXT (the embeddings of {@code initText}'s tokens)
 * @param initText             the text for TEXT
 * @param tokenizerNameOrPath  for TEXT: a local {@code tokenizer.json} or a folder holding one
 * @param numLayers            recorded by PEFT (0: from the model)
 * @param numAttentionHeads    recorded by PEFT (0: from the model)
 * @param taskType             PEFT's task_type, kept for the saved config (null when unknown)
 */
public record PromptTuningConfig(int numVirtualTokens, int tokenDim, String init, String initText, String tokenizerNameOrPath,
                                 int numLayers, int numAttentionHeads, String taskType) implements MethodConfig {
    public static final String NAME = "prompt_tuning";
    static final String[] INITS = {"RANDOM", "SAMPLE_VOCAB", "TEXT"};

    public PromptTuningConfig {
        if (numVirtualTokens < 1) throw new IllegalArgumentException(NAME + ": num_virtual_tokens must be at least 1, got " + numVirtualTokens);
        if (tokenDim < 0 || numLayers < 0 || numAttentionHeads < 0) {
            throw new IllegalArgumentException(NAME + ": token_dim, num_layers and num_attention_heads must not be negative");
        }
        if (!java.util.Arrays.asList(INITS).contains(init)) {
            throw new IllegalArgumentException(NAME + ": prompt_tuning_init is '" + init + "'; valid: " + String.join(", ", INITS));
        }
        if (init.equals("TEXT") && (initText == null || initText.isEmpty() || tokenizerNameOrPath == null)) {
            throw new IllegalArgumentException(NAME + ": prompt_tuning_init TEXT needs prompt_tuning_init_text and tokenizer_name_or_path");
        }
    }

    static PromptTuningConfig parse(ConfigArgs args) {
        int submodules = args.integer("num_transformer_submodules", 1);
        if (submodules != 1) {
            throw args.bad("num_transformer_submodules", Integer.toString(submodules), "1 (encoder-decoder models are not supported)");
        }
        if (args.has("tokenizer_kwargs")) throw args.bad("tokenizer_kwargs", args.string("tokenizer_kwargs", null), "absent (not supported)");
        return new PromptTuningConfig(args.integer("num_virtual_tokens", 20), args.integer("token_dim", 0),
                args.choice("prompt_tuning_init", "RANDOM", INITS), args.string("prompt_tuning_init_text", null),
                args.string("tokenizer_name_or_path", null), args.integer("num_layers", 0), args.integer("num_attention_heads", 0),
                args.string("task_type", null));
    }

    @Override
    public String method() { return NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("num_virtual_tokens", numVirtualTokens);
        putSize(o, "token_dim", tokenDim);
        o.put("prompt_tuning_init", init);
        o.put("prompt_tuning_init_text", initText);
        o.put("tokenizer_name_or_path", tokenizerNameOrPath);
        putSize(o, "num_layers", numLayers);
        putSize(o, "num_attention_heads", numAttentionHeads);
        o.put("task_type", taskType);
        return o;
    }

    /** A size, or null for "from the model". */
    static void putSize(ObjectNode o, String field, int value) {
        if (value == 0) o.putNull(field);
        else o.put(field, value);
    }
}
