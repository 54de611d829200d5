package org.peft4j.adapters.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.adapters.ConfigArgs;

/**
 * LoRA in AdapterHub {@code adapters} folders: a {@code config} object with {@code architecture: "lora"}
 * and {@code composition_mode: "add"} (mode "scale" is AdapterHub's IA3, another method), keys
 * {@code <module>.loras.<name>.lora_A} [r, in], {@code .lora_B} [out, r] and, when gated,
 * {@code .gate.weight|bias}. AdapterHub scales the branch by alpha/r (no rsLoRA).
 */
final class LoraHubFormat {
    private static final Pattern KEY = Pattern.compile("(.+)\\.loras\\.[^.]+\\.(lora_A|lora_B|gate\\.weight|gate\\.bias)");
    /** Fields that only describe how AdapterHub stores or seeds the weights. */
    private static final Set<String> IGNORED = Set.of("architecture", "dtype", "init_weights_seed");

    private LoraHubFormat() {}

    static boolean accepts(JsonNode config) {
        return config.path("architecture").asText("").equals("lora") && config.path("composition_mode").asText("add").equals("add");
    }

    /** The config from AdapterHub's {@code config} object; settings without a LoRA meaning here are errors naming the field. */
    static LoraConfig fromAdapterHubConfig(JsonNode hub) {
        if (!accepts(hub)) {
            throw new IllegalArgumentException("AdapterHub config is not LoRA (architecture '" + hub.path("architecture").asText()
                    + "', composition_mode '" + hub.path("composition_mode").asText("add") + "')");
        }
        ObjectNode ours = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> e : hub.properties()) {
            String key = e.getKey();
            JsonNode v = e.getValue();
            switch (key) {
                case "r", "alpha", "dropout", "selfattn_lora", "intermediate_lora", "output_lora", "attn_matrices", "composition_mode",
                     "use_gating", "leave_out" -> ours.set(key, v);
                case "init_weights" -> ours.put("init_lora_weights", switch (v.asText()) {
                    case "lora" -> "true";
                    case "bert" -> "bert";
                    default -> throw new IllegalArgumentException("AdapterHub LoRA config: 'init_weights' = " + v + " is not supported (lora, bert)");
                });
                case "use_dora", "vera_b", "vera_d" -> {
                    if (!v.isNull() && !(v.isBoolean() && !v.asBoolean())) {
                        throw new IllegalArgumentException("AdapterHub LoRA config: '" + key + "' = " + v + " is not supported by peft4j");
                    }
                }
                default -> {
                    if (!IGNORED.contains(key) && !v.isNull()) {
                        throw new IllegalArgumentException("AdapterHub LoRA config: unknown field '" + key + "' = " + v);
                    }
                }
            }
        }
        if (!ours.has("selfattn_lora") && !ours.has("intermediate_lora") && !ours.has("output_lora") && !ours.has("attn_matrices")) {
            ours.put("selfattn_lora", true); // AdapterHub's LoRAConfig default location
        }
        ConfigArgs args = ConfigArgs.fromJson("lora", ours);
        LoraConfig c = LoraConfig.parse(args);
        args.finish();
        return c;
    }

    /** {@code <module>.loras.<any>.lora_A} → {@code <module>.lora_A.<adapter>.weight}; the gate → {@code <module>.lora_gate.<adapter>.*}. */
    static String treeName(String key, String adapter) {
        Matcher m = KEY.matcher(key);
        if (!m.matches()) return null;
        String part = m.group(2);
        return switch (part) {
            case "lora_A", "lora_B" -> m.group(1) + "." + part + "." + adapter + ".weight";
            default -> m.group(1) + "." + LoraLayer.GATE + "." + adapter + part.substring("gate".length());
        };
    }
}
