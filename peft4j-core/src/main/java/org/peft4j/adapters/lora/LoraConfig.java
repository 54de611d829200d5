package org.peft4j.adapters.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.TargetModules;
import org.peft4j.models.Architecture;

/**
 * LoRA and DoRA, with PEFT's fields and defaults: {@code h = W₀x + s·B·A·dropout(x)} with s = α/r
 * (α/√r for rsLoRA); DoRA adds a learned magnitude per output row. {@code targets} is null when the
 * config names none: PEFT's default for the architecture applies ({@link #DEFAULT_TARGETS}).
 * {@code hubTargets} places LoRA by AdapterHub location instead ({@code selfattn_lora}, ...).
 *
 * @param r            rank (PEFT {@code r}, default 8)
 * @param alpha        PEFT {@code lora_alpha} / AdapterHub {@code alpha} (default 8)
 * @param targets      PEFT {@code target_modules}, {@code layers_to_transform}, {@code exclude_modules};
 *                     null names mean the architecture's default
 * @param hubTargets   AdapterHub locations, or null
 * @param leaveOut     AdapterHub {@code leave_out}: layer indices left without LoRA
 * @param dropout      dropout on the LoRA branch's input, in training only
 * @param bias         which biases become trainable
 * @param useRslora    scaling α/√r instead of α/r
 * @param useDora      DoRA's magnitude vector
 * @param fanInFanOut  PEFT's {@code fan_in_fan_out}, null = as the layer stores its weight (true for GPT-2's Conv1D)
 * @param init         initialisation of fresh matrices
 * @param rankPattern  per-module rank by PEFT's pattern rule
 * @param alphaPattern per-module alpha by PEFT's pattern rule
 * @param useGating    AdapterHub's gate (UniPELT): the branch is multiplied by a learned sigmoid gate instead of s
 */
public record LoraConfig(
        int r,
        double alpha,
        TargetModules targets,
        AdapterHubTargets hubTargets,
        List<Integer> leaveOut,
        double dropout,
        Bias bias,
        boolean useRslora,
        boolean useDora,
        Boolean fanInFanOut,
        LoraInit init,
        Map<String, Integer> rankPattern,
        Map<String, Double> alphaPattern,
        boolean useGating) implements MethodConfig {

    /** PEFT's default target modules per architecture family. */
    public static final Map<Architecture, List<String>> DEFAULT_TARGETS = Map.of(
            Architecture.BERT, List.of("query", "value"),
            Architecture.GPT2, List.of("c_attn"),
            Architecture.LLAMA, List.of("q_proj", "v_proj"));

    private static final ObjectMapper JSON = new ObjectMapper();

    /** PEFT's {@code bias}: none, every bias of the model, or the biases of the adapted layers. */
    public enum Bias {
        NONE("none"), ALL("all"), LORA_ONLY("lora_only");

        private final String value;

        Bias(String value) { this.value = value; }

        public String value() { return value; }

        static Bias parse(String v) {
            for (Bias b : values()) if (b.value.equals(v)) return b;
            throw new IllegalArgumentException("lora: bias '" + v + "'; valid: none, all, lora_only");
        }
    }

    public LoraConfig {
        if (r < 1) throw new IllegalArgumentException("lora: r must be at least 1, got " + r);
        if (!Double.isFinite(alpha)) throw new IllegalArgumentException("lora: lora_alpha must be finite, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("lora: lora_dropout must be in [0, 1), got " + dropout);
        if (targets != null && hubTargets != null) {
            throw new IllegalArgumentException("lora: give target_modules or AdapterHub's selfattn_lora/intermediate_lora/output_lora/attn_matrices, not both");
        }
        if (useDora && useGating) throw new IllegalArgumentException("lora: use_dora and use_gating cannot be combined");
        leaveOut = List.copyOf(leaveOut);
        // Order matters: PEFT takes the first pattern that matches.
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
            if (e.getValue() < 1) throw new IllegalArgumentException("lora: rank_pattern['" + e.getKey() + "'] must be at least 1");
        }
    }

    /** PEFT's defaults: r 8, alpha 8, the architecture's default targets, no dropout, no bias. */
    public static LoraConfig defaults() {
        return new LoraConfig(8, 8, null, null, List.of(), 0, Bias.NONE, false, false, null, LoraInit.KAIMING, Map.of(), Map.of(), false);
    }

    @Override
    public String method() { return "lora"; }

    /**
     * Reads the string or JSON form. The method name {@code dora} turns {@code use_dora} on by default;
     * {@code alpha} and {@code dropout} are accepted for AdapterHub's {@code lora_alpha} and {@code lora_dropout}.
     */
    public static LoraConfig parse(ConfigArgs args) {
        int r = args.integer("r", 8);
        double alpha = either(args, "lora_alpha", "alpha", 8);
        double dropout = either(args, "lora_dropout", "dropout", 0);
        Bias bias = Bias.parse(args.choice("bias", "none", "none", "all", "lora_only"));
        boolean rslora = args.bool("use_rslora", false);
        boolean dora = args.bool("use_dora", args.method().equals("dora"));
        Boolean fanInFanOut = args.has("fan_in_fan_out") ? args.bool("fan_in_fan_out", false) : null;
        LoraInit init = LoraInit.parse(args.string("init_lora_weights", "true"));
        Map<String, Integer> ranks = new LinkedHashMap<>();
        patternMap(args, "rank_pattern").forEach((k, v) -> ranks.put(k, integer("rank_pattern", k, v)));
        Map<String, Double> alphas = new LinkedHashMap<>();
        patternMap(args, "alpha_pattern").forEach((k, v) -> alphas.put(k, v.asDouble()));
        boolean gating = args.bool("use_gating", false);
        String mode = args.string("composition_mode", "add");
        if (!mode.equals("add")) {
            throw new IllegalArgumentException("lora: composition_mode '" + mode + "' is not LoRA's ('add'); 'scale' is AdapterHub's IA3");
        }
        List<Integer> leaveOut = indices(args, "leave_out");
        boolean named = args.has("target_modules");
        TargetModules read = TargetModules.read(args, List.of());
        boolean layerRules = !read.layers().isEmpty() || !read.exclude().isEmpty();
        AdapterHubTargets hub = null;
        // '|' rather than '||': every field is read, so each counts as known to finish()
        if (args.has("selfattn_lora") | args.has("intermediate_lora") | args.has("output_lora") | args.has("attn_matrices")) {
            if (named || layerRules) {
                throw new IllegalArgumentException("lora: AdapterHub locations (selfattn_lora, intermediate_lora, output_lora, attn_matrices) "
                        + "cannot be combined with target_modules, layers_to_transform or exclude_modules; use leave_out");
            }
            List<String> matrices = args.has("attn_matrices") ? args.list("attn_matrices") : AdapterHubTargets.DEFAULT_MATRICES;
            hub = new AdapterHubTargets(args.bool("selfattn_lora", true), matrices.stream().map(m -> m.toLowerCase(Locale.ROOT)).toList(),
                    args.bool("intermediate_lora", false), args.bool("output_lora", false));
        }
        TargetModules targets = named || layerRules ? read : null;
        return new LoraConfig(r, alpha, targets, hub, leaveOut, dropout, bias, rslora, dora, fanInFanOut, init, ranks, alphas, gating);
    }

    private static double either(ConfigArgs args, String name, String alias, double fallback) {
        boolean a = args.has(name), b = args.has(alias);
        if (a && b) throw new IllegalArgumentException("lora: give '" + name + "' or '" + alias + "', not both");
        return b ? args.number(alias, fallback) : args.number(name, fallback);
    }

    private static Map<String, JsonNode> patternMap(ConfigArgs args, String key) {
        String text = args.string(key, null);
        Map<String, JsonNode> out = new LinkedHashMap<>();
        if (text == null || text.isBlank()) return out;
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (Exception e) {
            throw args.bad(key, text, "a JSON object such as {\"query\": 16}");
        }
        if (!node.isObject()) throw args.bad(key, text, "a JSON object such as {\"query\": 16}");
        node.fields().forEachRemaining(e -> {
            if (!e.getValue().isNumber()) throw args.bad(key, text, "a JSON object of numbers");
            out.put(e.getKey(), e.getValue());
        });
        return out;
    }

    private static int integer(String field, String key, JsonNode v) {
        if (!v.canConvertToInt() || v.asDouble() != v.asInt()) {
            throw new IllegalArgumentException("lora: " + field + "['" + key + "'] must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static List<Integer> indices(ConfigArgs args, String key) {
        List<Integer> out = new ArrayList<>();
        for (String s : args.list(key)) {
            try {
                out.add(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                throw args.bad(key, s, "a list of layer indices");
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ per-module values

    /** The target modules on a model of this architecture (PEFT's default when none were named). */
    public TargetModules targetsFor(Architecture arch) {
        if (hubTargets != null) {
            hubTargets.check(arch);
            return hubTargets.targetModules(new TargetModules(List.of(), null, false, List.of(), List.of()));
        }
        boolean named = targets != null && (!targets.names().isEmpty() || targets.regex() != null || targets.allLinear());
        if (named) return targets;
        List<String> defaults = DEFAULT_TARGETS.get(arch);
        return targets == null ? new TargetModules(defaults, null, false, List.of(), List.of())
                : new TargetModules(defaults, null, false, targets.layers(), targets.exclude());
    }

    /**
     * This config with the architecture's implicit choices written out, as PEFT saves them: the default
     * target modules, and {@code fan_in_fan_out} (true on GPT-2, whose projections are Conv1D).
     */
    public LoraConfig resolvedFor(Architecture arch) {
        TargetModules t = hubTargets != null ? null : targetsFor(arch);
        Boolean layout = fanInFanOut != null ? fanInFanOut : Boolean.valueOf(arch == Architecture.GPT2);
        return new LoraConfig(r, alpha, t, hubTargets, leaveOut, dropout, bias, useRslora, useDora, layout, init, rankPattern,
                alphaPattern, useGating);
    }

    /** The dotted module names this config adapts among {@code linearModules}, in model order. */
    public List<String> select(Architecture arch, Map<String, ?> linearModules) {
        Map<String, Object> kept = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : linearModules.entrySet()) {
            if (!leaveOut.contains(TargetModules.layerIndex(e.getKey()))) kept.put(e.getKey(), e.getValue());
        }
        return targetsFor(arch).select(kept, "lora");
    }

    /** The rank of module {@code path}: {@code rank_pattern}'s if a key matches, else r. */
    public int rankFor(String path) {
        String key = patternKey(rankPattern.keySet(), path);
        return key == null ? r : rankPattern.get(key);
    }

    /** The alpha of module {@code path}: {@code alpha_pattern}'s if a key matches, else alpha. */
    public double alphaFor(String path) {
        String key = patternKey(alphaPattern.keySet(), path);
        return key == null ? alpha : alphaPattern.get(key);
    }

    /** The branch's scale for module {@code path}: α/r, or α/√r with rsLoRA; 1 with gating (the gate scales). */
    public double scalingFor(String path) {
        if (useGating) return 1;
        int rank = rankFor(path);
        return alphaFor(path) / (useRslora ? Math.sqrt(rank) : rank);
    }

    /** PEFT's pattern rule: a key equal to the module name, else the first whose regex matches a dotted suffix of it. */
    static String patternKey(Iterable<String> keys, String path) {
        for (String k : keys) if (k.equals(path)) return k;
        for (String k : keys) if (Pattern.compile("(?:.*\\.)?(?:" + k + ")").matcher(path).matches()) return k;
        return null;
    }

    // ------------------------------------------------------------------ JSON

    @Override
    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode o = f.objectNode();
        o.put("r", r);
        o.put("lora_alpha", alpha);
        if (targets != null && (!targets.names().isEmpty() || targets.regex() != null || targets.allLinear())) {
            o.set("target_modules", JSON.valueToTree(targets.toJsonValue()));
        }
        if (hubTargets != null) {
            o.put("selfattn_lora", hubTargets.selfattn());
            ArrayNode m = o.putArray("attn_matrices");
            hubTargets.attnMatrices().forEach(m::add);
            o.put("intermediate_lora", hubTargets.intermediate());
            o.put("output_lora", hubTargets.output());
        }
        if (targets != null && !targets.layers().isEmpty()) targets.layers().forEach(o.putArray("layers_to_transform")::add);
        if (targets != null && !targets.exclude().isEmpty()) targets.exclude().forEach(o.putArray("exclude_modules")::add);
        if (!leaveOut.isEmpty()) leaveOut.forEach(o.putArray("leave_out")::add);
        o.put("lora_dropout", dropout);
        o.put("bias", bias.value());
        o.put("use_rslora", useRslora);
        o.put("use_dora", useDora);
        if (fanInFanOut != null) o.put("fan_in_fan_out", fanInFanOut);
        o.put("init_lora_weights", init.value());
        if (!rankPattern.isEmpty()) rankPattern.forEach(o.putObject("rank_pattern")::put);
        if (!alphaPattern.isEmpty()) alphaPattern.forEach(o.putObject("alpha_pattern")::put);
        o.put("use_gating", useGating);
        return o;
    }
}
