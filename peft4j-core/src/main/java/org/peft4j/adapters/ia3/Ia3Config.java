package org.peft4j.adapters.ia3;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.TargetModules;
import org.peft4j.adapters.loha.Jsons;
import org.peft4j.models.ModelConfig;

/**
 * (IA)³ as PEFT defines it: a learned vector per targeted layer, multiplying the layer's output, or for the
 * {@code feedforward_modules} among the targets its input. Both lists default to PEFT's choice for the model
 * type (BERT/RoBERTa: key, value, output.dense with output.dense feed-forward; GPT-2: c_attn, mlp.c_proj;
 * Llama/Mistral: k_proj, v_proj, down_proj; Qwen2: q_proj, v_proj, down_proj). {@code init_ia3_weights}
 * starts the vectors at one (the model unchanged); false starts them standard normal. {@code fan_in_fan_out}
 * is PEFT's flag for GPT-2's Conv1D weights: peft4j's layers know their own layout, so it is only recorded.
 * E.g. {@code ia3[target_modules=query|value|output.dense,feedforward_modules=output.dense]}.
 *
 * @param defaultTargets whether {@code target_modules} was left out (then {@code targets} only carries
 *     {@code layers_to_transform} and {@code exclude_modules})
 * @param feedforward the feed-forward modules, or null for the model type's default
 */
public record Ia3Config(TargetModules targets, boolean defaultTargets, FeedForwardModules feedforward, boolean fanInFanOut,
        boolean initIa3Weights) implements MethodConfig {

    /** PEFT's default targets and feed-forward modules by model type. */
    private static final Map<String, List<List<String>>> DEFAULTS = Map.of(
            "bert", List.of(List.of("key", "value", "output.dense"), List.of("output.dense")),
            "roberta", List.of(List.of("key", "value", "output.dense"), List.of("output.dense")),
            "gpt2", List.of(List.of("c_attn", "mlp.c_proj"), List.of("mlp.c_proj")),
            "llama", List.of(List.of("k_proj", "v_proj", "down_proj"), List.of("down_proj")),
            "mistral", List.of(List.of("k_proj", "v_proj", "down_proj"), List.of("down_proj")),
            "qwen2", List.of(List.of("q_proj", "v_proj", "down_proj"), List.of("down_proj")));

    public Ia3Config {
        // PEFT's IA3Config refuses feed-forward modules outside the target list when both are lists.
        if (!defaultTargets && feedforward != null && feedforward.regex() == null && targets.regex() == null && !targets.allLinear()
                && !targets.names().containsAll(feedforward.suffixes())) {
            throw new IllegalArgumentException(Ia3Method.NAME + ": feedforward_modules " + feedforward.suffixes()
                    + " must be a subset of target_modules " + targets.names());
        }
    }

    public static Ia3Config read(ConfigArgs args) {
        boolean defaultTargets = !args.has("target_modules");
        TargetModules targets = TargetModules.read(args, List.of());
        FeedForwardModules ff = args.has("feedforward_modules") ? FeedForwardModules.read(args) : null;
        return new Ia3Config(targets, defaultTargets, ff, args.bool("fan_in_fan_out", false), args.bool("init_ia3_weights", true));
    }

    @Override
    public String method() { return Ia3Method.NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        Jsons.put(json, "exclude_modules", targets.exclude().isEmpty() ? null : targets.exclude());
        json.put("fan_in_fan_out", fanInFanOut);
        Jsons.put(json, "feedforward_modules", feedforward == null ? null : feedforward.toJsonValue());
        json.put("init_ia3_weights", initIa3Weights);
        Jsons.put(json, "layers_to_transform", targets.layers().isEmpty() ? null : targets.layers());
        Jsons.put(json, "target_modules", defaultTargets ? null : targets.toJsonValue());
        return json;
    }

    /** The targets on a model: the configured ones, or PEFT's default for its model type. */
    TargetModules resolveTargets(ModelConfig config) {
        if (!defaultTargets) return targets;
        return new TargetModules(defaults(config).get(0), null, false, targets.layers(), targets.exclude());
    }

    /** The feed-forward modules on a model: the configured ones, or PEFT's default for its model type. */
    FeedForwardModules resolveFeedForward(ModelConfig config) {
        return feedforward != null ? feedforward : new FeedForwardModules(defaults(config).get(1), null);
    }

    private static List<List<String>> defaults(ModelConfig config) {
        List<List<String>> d = DEFAULTS.get(config.modelType());
        if (d == null) {
            throw new IllegalArgumentException(Ia3Method.NAME + ": no default target_modules/feedforward_modules for model_type '"
                    + config.modelType() + "'; set both");
        }
        return d;
    }
}
