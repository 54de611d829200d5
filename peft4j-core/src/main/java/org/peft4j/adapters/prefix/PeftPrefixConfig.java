package org.peft4j.adapters.prefix;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.models.ModelConfig;

/**
 * Hugging Face PEFT's prefix tuning ({@code peft_type} PREFIX_TUNING) under PEFT's field names. The
 * sizes PEFT fills in from the model may be left 0 here ("from the model"); given ones must match it.
 *
 * @param numVirtualTokens  prefix positions per layer
 * @param prefixProjection  train through PEFT's MLP {@code Linear(token_dim → encoder_hidden_size) → tanh →
 *                          Linear(→ num_layers·2·token_dim)} instead of the prefixes themselves
 * @param encoderHiddenSize the MLP's hidden width (0: token_dim, as PEFT)
 * @param tokenDim          the key/value width of one layer, kv_heads·head_dim (0: from the model)
 * @param numLayers         0: from the model
 * @param numAttentionHeads the key/value heads (0: from the model)
 * @param initWeights       null (random prefixes) or "zero" (zero prefixes / zero last MLP layer)
 * @param taskType          PEFT's task_type, kept for the saved config (null when unknown)
 */
public record PeftPrefixConfig(int numVirtualTokens, boolean prefixProjection, int encoderHiddenSize, int tokenDim, int numLayers,
                               int numAttentionHeads, String initWeights, String taskType) implements MethodConfig {
    public static final String NAME = "prefix";

    public PeftPrefixConfig {
        if (numVirtualTokens < 1) throw new IllegalArgumentException(NAME + ": num_virtual_tokens must be at least 1, got " + numVirtualTokens);
        if (encoderHiddenSize < 0 || tokenDim < 0 || numLayers < 0 || numAttentionHeads < 0) {
            throw new IllegalArgumentException(NAME + ": encoder_hidden_size, token_dim, num_layers and num_attention_heads must not be negative");
        }
        if (initWeights != null && !initWeights.equals("zero")) {
            throw new IllegalArgumentException(NAME + ": init_weights is '" + initWeights + "'; valid: zero (or null)");
        }
    }

    static PeftPrefixConfig parse(ConfigArgs args) {
        int submodules = args.integer("num_transformer_submodules", 1);
        if (submodules != 1) {
            throw args.bad("num_transformer_submodules", Integer.toString(submodules), "1 (encoder-decoder models are not supported)");
        }
        return new PeftPrefixConfig(args.integer("num_virtual_tokens", 20), args.bool("prefix_projection", false),
                args.integer("encoder_hidden_size", 0), args.integer("token_dim", 0), args.integer("num_layers", 0),
                args.integer("num_attention_heads", 0), args.choice("init_weights", null, "zero"), args.string("task_type", null));
    }

    /** The same prefix trained flat (what {@link PrefixEncoder#eject} leaves, and what PEFT saves). */
    public PeftPrefixConfig asFlat() {
        return new PeftPrefixConfig(numVirtualTokens, false, encoderHiddenSize, tokenDim, numLayers, numAttentionHeads, initWeights, taskType);
    }

    /** The sizes on model {@code m}; a given size that differs from the model's is an error naming the field. */
    Dims dims(ModelConfig m) {
        int kvWidth = m.numKvHeads() * m.headDim();
        check("token_dim", tokenDim, kvWidth, " (" + m.numKvHeads() + " key/value heads × " + m.headDim() + ")");
        check("num_layers", numLayers, m.numLayers(), "");
        check("num_attention_heads", numAttentionHeads, m.numKvHeads(), " (key/value heads)");
        return new Dims(numVirtualTokens, m.numLayers(), m.numKvHeads(), m.headDim(), encoderHiddenSize == 0 ? kvWidth : encoderHiddenSize);
    }

    private static void check(String field, int given, int model, String detail) {
        if (given != 0 && given != model) {
            throw new IllegalArgumentException(NAME + ": " + field + " is " + given + ", but this model has " + model + detail);
        }
    }

    /** Resolved sizes: tokens, layers, key/value heads, head width, MLP width. */
    record Dims(int tokens, int layers, int kvHeads, int headDim, int encoderHidden) {
        int tokenDim() { return kvHeads * headDim; }

        int width() { return layers * 2 * tokenDim(); }
    }

    @Override
    public String method() { return NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("num_virtual_tokens", numVirtualTokens);
        o.put("prefix_projection", prefixProjection);
        putSize(o, "encoder_hidden_size", encoderHiddenSize);
        putSize(o, "token_dim", tokenDim);
        putSize(o, "num_layers", numLayers);
        putSize(o, "num_attention_heads", numAttentionHeads);
        o.put("init_weights", initWeights);
        o.put("task_type", taskType);
        return o;
    }

    /** A size, or null for "from the model" (as PEFT writes sizes it has not filled in). */
    static void putSize(ObjectNode o, String field, int value) {
        if (value == 0) o.putNull(field);
        else o.put(field, value);
    }
}
