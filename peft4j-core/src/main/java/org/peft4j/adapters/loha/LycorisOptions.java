package org.peft4j.adapters.loha;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.TargetModules;
import org.peft4j.models.ModelConfig;

/**
 * The settings LoHa and LoKr share, as PEFT's {@code LycorisConfig}: rank {@code r} and {@code alpha}
 * (the update is scaled by α/r), per-module overrides {@code rank_pattern} / {@code alpha_pattern},
 * {@code rank_dropout} (drops rows of the weight update in training), {@code module_dropout} (skips the
 * whole adapter in training), {@code init_weights} (true: the update starts at zero) and the targeted
 * modules. {@code use_effective_conv2d} only concerns convolutions, which these models do not have, and
 * {@code layers_pattern} names the layer stack that peft4j finds by itself; both are kept so PEFT files
 * round-trip.
 *
 * @param defaultTargets whether {@code target_modules} was left out, so PEFT's default for the model
 *     type applies (then {@code targets} only carries {@code layers_to_transform} and {@code exclude_modules})
 */
public record LycorisOptions(
        int r,
        double alpha,
        Map<String, Integer> rankPattern,
        Map<String, Double> alphaPattern,
        double rankDropout,
        double moduleDropout,
        boolean initWeights,
        TargetModules targets,
        boolean defaultTargets,
        String layersPattern,
        boolean useEffectiveConv2d) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** PEFT's default targets for LoHa and LoKr (those of LoRA) by model type. */
    private static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "bert", List.of("query", "value"),
            "roberta", List.of("query", "value"),
            "xlm-roberta", List.of("query", "value"),
            "gpt2", List.of("c_attn"),
            "llama", List.of("q_proj", "v_proj"),
            "mistral", List.of("q_proj", "v_proj"),
            "qwen2", List.of("q_proj", "v_proj"));

    public LycorisOptions {
        if (r <= 0) throw new IllegalArgumentException("r must be a positive integer, got " + r);
        checkProbability("rank_dropout", rankDropout);
        checkProbability("module_dropout", moduleDropout);
        rankPattern.forEach((k, v) -> {
            if (v <= 0) throw new IllegalArgumentException("rank_pattern['" + k + "'] must be a positive integer, got " + v);
        });
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
    }

    /** Reads the shared fields from the string or JSON form (defaults: r 8, alpha 8, no dropout, zero-start update). */
    public static LycorisOptions read(ConfigArgs args) {
        boolean defaultTargets = !args.has("target_modules");
        TargetModules targets = TargetModules.read(args, List.of());
        return new LycorisOptions(
                args.integer("r", 8),
                args.number("alpha", 8),
                pattern(args, "rank_pattern", JsonNode::asInt),
                pattern(args, "alpha_pattern", JsonNode::asDouble),
                args.number("rank_dropout", 0),
                args.number("module_dropout", 0),
                args.bool("init_weights", true),
                targets,
                defaultTargets,
                args.string("layers_pattern", null),
                args.bool("use_effective_conv2d", false));
    }

    /** Writes the shared fields under PEFT's names (which are also the string form's). */
    public void writeTo(ObjectNode json) {
        putNumber(json, "alpha", alpha);
        json.set("alpha_pattern", JSON.valueToTree(alphaPattern));
        Jsons.put(json, "exclude_modules", targets.exclude().isEmpty() ? null : targets.exclude());
        json.put("init_weights", initWeights);
        Jsons.put(json, "layers_pattern", layersPattern);
        Jsons.put(json, "layers_to_transform", targets.layers().isEmpty() ? null : targets.layers());
        json.put("module_dropout", moduleDropout);
        json.put("r", r);
        json.put("rank_dropout", rankDropout);
        json.set("rank_pattern", JSON.valueToTree(rankPattern));
        Jsons.put(json, "target_modules", defaultTargets ? null : targets.toJsonValue());
        json.put("use_effective_conv2d", useEffectiveConv2d);
    }

    /** The rank of the module at {@code path} ({@code rank_pattern} first, else {@code r}). */
    public int rank(String path) {
        String key = patternKey(rankPattern.keySet(), path);
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of the module at {@code path} ({@code alpha_pattern} first, else {@code alpha}). */
    public double alpha(String path) {
        String key = patternKey(alphaPattern.keySet(), path);
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** The targets on a model: the configured ones, or PEFT's default for its model type. */
    public TargetModules resolveTargets(ModelConfig config, String method) {
        if (!defaultTargets) return targets;
        List<String> names = DEFAULT_TARGETS.get(config.modelType());
        if (names == null) {
            throw new IllegalArgumentException(method + ": no default target_modules for model_type '" + config.modelType()
                    + "'; set target_modules");
        }
        return new TargetModules(names, null, false, targets.layers(), targets.exclude());
    }

    /**
     * PEFT's pattern lookup: the first key that matches the whole module name or a dotted suffix of it,
     * as a regular expression; null when none does.
     */
    static String patternKey(Iterable<String> keys, String path) {
        for (String key : keys) {
            if (Pattern.compile("(.*\\.)?(" + key + ")").matcher(path).matches()) return key;
        }
        return null;
    }

    private static <T> Map<String, T> pattern(ConfigArgs args, String key, java.util.function.Function<JsonNode, T> value) {
        String text = args.string(key, null);
        Map<String, T> out = new LinkedHashMap<>();
        if (text == null || text.isBlank()) return out;
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw args.bad(key, text, "a JSON object of module pattern to value");
        }
        if (node == null || !node.isObject()) throw args.bad(key, text, "a JSON object of module pattern to value");
        node.fields().forEachRemaining(e -> {
            if (!e.getValue().isNumber()) throw args.bad(key, text, "a JSON object whose values are numbers");
            out.put(e.getKey(), value.apply(e.getValue()));
        });
        return out;
    }

    private static void checkProbability(String field, double p) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException(field + " must be in [0, 1], got " + p);
    }

    /** Whole numbers as JSON integers, as PEFT writes them. */
    static void putNumber(ObjectNode json, String key, double v) {
        if (v == Math.rint(v) && Math.abs(v) <= Integer.MAX_VALUE) json.put(key, (int) v);
        else json.put(key, v);
    }
}
