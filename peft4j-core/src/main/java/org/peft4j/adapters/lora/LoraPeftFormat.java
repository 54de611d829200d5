package org.peft4j.adapters.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.TargetModules;

/**
 * LoRA/DoRA in Hugging Face PEFT's files (0.21): {@code adapter_config.json} with {@code peft_type: LORA}
 * and {@code adapter_model.safetensors} keys {@code base_model.model.<module>.lora_A.weight},
 * {@code .lora_B.weight}, {@code .lora_magnitude_vector} (DoRA) and, with {@code bias} other than none,
 * the trained biases under their model names ({@code <module>.base_layer.bias} for adapted layers).
 */
final class LoraPeftFormat {
    static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MATRIX = Pattern.compile("(.+)\\.(lora_A|lora_B)\\.weight");
    private static final Pattern TREE_MATRIX = Pattern.compile("(.+)\\.(lora_A|lora_B|lora_magnitude_vector)\\.([^.]+)\\.weight");
    private static final String MAGNITUDE_SUFFIX = ".lora_magnitude_vector";

    /** The LoRA fields peft4j reads, under PEFT's names. */
    private static final List<String> READ = List.of("r", "lora_alpha", "target_modules", "lora_dropout", "bias", "use_rslora",
            "use_dora", "fan_in_fan_out", "init_lora_weights", "layers_to_transform", "exclude_modules", "rank_pattern", "alpha_pattern");
    /** Fields about the base model, the task or the writer: no bearing on the LoRA weights. */
    private static final Set<String> IGNORED = Set.of("peft_type", "peft_version", "base_model_name_or_path", "revision", "task_type",
            "inference_mode", "auto_mapping", "megatron_core", "qalora_group_size", "ensure_weight_tying", "modules_to_save",
            "layers_pattern");
    /** Layer-list names {@code layers_pattern} may give: those {@link TargetModules#layerIndex} knows. */
    private static final Set<String> LAYER_LISTS = Set.of("layer", "layers", "h", "blocks");

    private LoraPeftFormat() {}

    /**
     * The config of a PEFT LoRA {@code adapter_config.json}. Settings peft4j does not implement
     * (LoftQ, layer replication, LoRA-FA variants, ...) are an error naming the field whenever they are
     * set to anything but their default.
     */
    static LoraConfig fromPeftConfig(JsonNode peft) {
        String type = peft.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) throw new IllegalArgumentException("peft_type '" + type + "' is not LORA");
        ObjectNode ours = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> e : peft.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            if (READ.contains(key)) {
                if (!v.isNull()) ours.set(key, v);
            } else if (key.equals("layers_pattern")) {
                checkLayersPattern(v);
            } else if (!IGNORED.contains(key) && !isDefault(v)) {
                throw new IllegalArgumentException("PEFT LoRA config: '" + key + "' = " + v + " is not supported by peft4j");
            }
        }
        JsonNode exclude = ours.get("exclude_modules");
        if (exclude != null && exclude.isTextual()) {
            throw new IllegalArgumentException("PEFT LoRA config: 'exclude_modules' as a regular expression is not supported; give a list");
        }
        JsonNode init = ours.get("init_lora_weights");
        if (init != null && !init.isBoolean() && !init.asText().equals("gaussian")) {
            throw new IllegalArgumentException("PEFT LoRA config: 'init_lora_weights' = " + init + " is not supported (true, false, gaussian)");
        }
        ConfigArgs args = ConfigArgs.fromJson("lora", ours);
        LoraConfig c = LoraConfig.parse(args);
        args.finish();
        return c;
    }

    private static void checkLayersPattern(JsonNode v) {
        if (v.isNull()) return;
        List<JsonNode> items = v.isArray() ? List.copyOf(v.valueStream().toList()) : List.of(v);
        for (JsonNode i : items) {
            if (!LAYER_LISTS.contains(i.asText())) {
                throw new IllegalArgumentException("PEFT LoRA config: 'layers_pattern' = " + v + " is not supported; peft4j numbers layers by "
                        + LAYER_LISTS);
            }
        }
    }

    /** null, false, or an empty object/array: PEFT's "not set". */
    private static boolean isDefault(JsonNode v) {
        return v == null || v.isNull() || (v.isBoolean() && !v.asBoolean()) || (v.isContainerNode() && v.isEmpty());
    }

    /** PEFT 0.21's adapter_config.json for {@code c}, every field PEFT writes, in its (sorted) order. */
    static ObjectNode toPeftConfig(LoraConfig c) {
        if (c.useGating()) throw new IllegalArgumentException("a gated LoRA (use_gating) has no PEFT form");
        if (!c.leaveOut().isEmpty()) throw new IllegalArgumentException("AdapterHub's leave_out has no PEFT form; use layers_to_transform");
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putNull("alora_invocation_tokens");
        ObjectNode alphas = o.putObject("alpha_pattern");
        c.alphaPattern().forEach((k, v) -> putNumber(alphas, k, v));
        o.putNull("arrow_config");
        o.putNull("auto_mapping");
        o.putNull("base_model_name_or_path");
        o.put("bias", c.bias().value());
        o.putNull("corda_config");
        o.put("ensure_weight_tying", false);
        o.putNull("eva_config");
        TargetModules t = c.targets();
        if (t != null && !t.exclude().isEmpty()) t.exclude().forEach(o.putArray("exclude_modules")::add);
        else o.putNull("exclude_modules");
        o.put("fan_in_fan_out", c.fanInFanOut() != null && c.fanInFanOut());
        o.put("inference_mode", true);
        if (c.init() == LoraInit.GAUSSIAN) o.put("init_lora_weights", "gaussian");
        else o.put("init_lora_weights", c.init() != LoraInit.RANDOM);
        o.putNull("kasa_config");
        o.putNull("layer_replication");
        o.putNull("layers_pattern");
        if (t != null && !t.layers().isEmpty()) t.layers().forEach(o.putArray("layers_to_transform")::add);
        else o.putNull("layers_to_transform");
        o.putObject("loftq_config");
        putNumber(o, "lora_alpha", c.alpha());
        o.put("lora_bias", false);
        o.put("lora_dropout", c.dropout());
        o.putNull("lora_ga_config");
        o.putNull("megatron_config");
        o.put("megatron_core", "megatron.core");
        o.putNull("modules_to_save");
        o.putNull("monteclora_config");
        o.put("peft_type", "LORA");
        o.put("peft_version", "0.21.0");
        o.put("qalora_group_size", 16);
        o.put("r", c.r());
        ObjectNode ranks = o.putObject("rank_pattern");
        c.rankPattern().forEach(ranks::put);
        o.putNull("revision");
        putTargets(o, c);
        o.putNull("target_parameters");
        o.putNull("task_type");
        o.putNull("trainable_token_indices");
        o.putNull("use_bdlora");
        o.put("use_dora", c.useDora());
        o.put("use_qalora", false);
        o.put("use_rslora", c.useRslora());
        o.putNull("velora_config");
        return o;
    }

    /**
     * PEFT's target_modules: the list, the regex string, "all-linear", the AdapterHub locations as a
     * regex, or null for the architecture's default (PEFT fills in the same default when loading).
     */
    private static void putTargets(ObjectNode o, LoraConfig c) {
        if (c.hubTargets() != null) {
            o.put("target_modules", c.hubTargets().regex().pattern());
            return;
        }
        TargetModules t = c.targets();
        boolean named = t != null && (!t.names().isEmpty() || t.regex() != null || t.allLinear());
        if (!named) {
            o.putNull("target_modules");
            return;
        }
        Object v = t.toJsonValue();
        if (v instanceof String s) {
            o.put("target_modules", s);
        } else {
            ArrayNode a = o.putArray("target_modules");
            t.names().forEach(a::add);
        }
    }

    /** Integral values as integers, as PEFT writes lora_alpha. */
    private static void putNumber(ObjectNode o, String key, double v) {
        if (v == Math.rint(v) && Math.abs(v) <= Integer.MAX_VALUE) o.put(key, (int) v);
        else o.put(key, v);
    }

    // ------------------------------------------------------------------ key names

    /** The tree name of a saved PEFT key, or null if the key is not LoRA's. */
    static String treeName(String key, String adapter) {
        if (!key.startsWith(PREFIX)) return null;
        String rest = key.substring(PREFIX.length());
        Matcher m = MATRIX.matcher(rest);
        if (m.matches()) return m.group(1) + "." + m.group(2) + "." + adapter + ".weight";
        if (rest.endsWith(MAGNITUDE_SUFFIX)) return rest + "." + adapter + ".weight";
        if (isBias(rest)) return rest;
        return null;
    }

    /** The saved PEFT key of a tree name. */
    static String peftKey(String tree, String adapter) {
        Matcher m = TREE_MATRIX.matcher(tree);
        if (m.matches()) {
            if (!m.group(3).equals(adapter)) {
                throw new IllegalArgumentException("'" + tree + "' belongs to adapter '" + m.group(3) + "', not '" + adapter + "'");
            }
            return PREFIX + m.group(1) + "." + m.group(2) + (m.group(2).equals("lora_magnitude_vector") ? "" : ".weight");
        }
        if (tree.contains("." + LoraLayer.GATE + ".")) throw new IllegalArgumentException("'" + tree + "': PEFT has no gated LoRA");
        if (isBias(tree)) return PREFIX + tree;
        throw new IllegalArgumentException("'" + tree + "' is not a LoRA tensor");
    }

    /** The name PEFT gives the tensor in memory: biases keep their saved name, the magnitude is a module's weight. */
    static String memoryName(String key, String adapter) {
        if (key.endsWith(MAGNITUDE_SUFFIX)) return key + "." + adapter + ".weight";
        if (isBias(key)) return key;
        int dot = key.lastIndexOf('.');
        return key.substring(0, dot) + "." + adapter + key.substring(dot);
    }

    /** A model bias (PEFT's bias modes save every tensor with "bias" in its name). */
    private static boolean isBias(String name) {
        return name.endsWith("bias") && !name.contains(".lora_");
    }
}
