package org.peft4j.adapters.loha;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;

/**
 * PEFT's file layout for methods whose tensors sit in per-adapter containers of the adapted layer
 * ({@code hada_w1_a}, {@code lokr_w1}, {@code ia3_l}...), held as raw parameters: saved as
 * {@code base_model.model.<module>.<container>}, named {@code <module>.<container>.<adapter>} in memory
 * (PEFT's and peft4j's), so the adapter name goes after the last component, not before it.
 *
 * @param containers the tensor container names of the method
 */
public record PeftLayerKeys(List<String> containers) {
    /** The prefix PEFT's {@code PeftModel} puts before the base model's own names. */
    public static final String PREFIX = "base_model.model.";

    /** Fields of every PEFT config that say nothing about the method. */
    private static final List<String> GENERIC = List.of(
            "peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode", "auto_mapping", "peft_version");

    /** The tree name of a saved key, or null if the key is not one of these containers. */
    public String treeName(String peftKey, String adapterName) {
        if (!peftKey.startsWith(PREFIX)) return null;
        String last = peftKey.substring(peftKey.lastIndexOf('.') + 1);
        if (!containers.contains(last)) return null;
        return peftKey.substring(PREFIX.length()) + "." + adapterName;
    }

    /** The saved key of a tree name of adapter {@code adapterName}. */
    public String peftKey(String treeName, String adapterName) {
        String suffix = "." + adapterName;
        String module = treeName.endsWith(suffix) ? treeName.substring(0, treeName.length() - suffix.length()) : "";
        String last = module.substring(module.lastIndexOf('.') + 1);
        if (!containers.contains(last)) {
            throw new IllegalArgumentException("'" + treeName + "' is not a tensor of adapter '" + adapterName + "' in "
                    + containers);
        }
        return PREFIX + module;
    }

    /** PEFT's in-memory name: the saved key followed by the adapter name. */
    public String memoryName(String peftKey, String adapterName) { return peftKey + "." + adapterName; }

    /**
     * A config from a PEFT {@code adapter_config.json}: the generic fields are dropped, {@code modules_to_save}
     * must be empty (no extra modules are trained by these methods), every other non-null field goes to
     * {@code parse}, and a field it does not know is an error naming it.
     */
    public static MethodConfig fromPeft(String method, JsonNode peftConfig, Function<ConfigArgs, MethodConfig> parse) {
        if (peftConfig == null || !peftConfig.isObject()) throw new IllegalArgumentException(method + ": adapter_config.json must be a JSON object");
        ObjectNode fields = peftConfig.deepCopy();
        GENERIC.forEach(fields::remove);
        JsonNode save = fields.remove("modules_to_save");
        if (save != null && !save.isNull() && !(save.isArray() && save.isEmpty())) {
            throw new IllegalArgumentException(method + ": modules_to_save " + save + " is not supported");
        }
        ConfigArgs args = ConfigArgs.fromJson(method, fields);
        MethodConfig config = parse.apply(args);
        args.finish();
        return config;
    }

    /**
     * A PEFT {@code adapter_config.json}: the generic fields PEFT writes, with the values of an adapter made for
     * inference, and the method's fields, every key in sorted order as PEFT writes them.
     */
    public static ObjectNode peftConfig(String peftType, ObjectNode methodFields) {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.setAll(methodFields);
        json.putNull("auto_mapping");
        json.putNull("base_model_name_or_path");
        json.put("inference_mode", true);
        json.putNull("modules_to_save");
        json.put("peft_type", peftType);
        json.putNull("revision");
        json.putNull("task_type");
        ObjectNode sorted = JsonNodeFactory.instance.objectNode();
        new TreeSet<>(json.properties().stream().map(Map.Entry::getKey).toList()).forEach(k -> sorted.set(k, json.get(k)));
        return sorted;
    }
}
