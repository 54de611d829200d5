package org.peft4j.adapters.prefix;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** The parts of a PEFT {@code adapter_config.json} that describe the file rather than the method. */
public final class PeftConfigFields {
    /** Fields PEFT writes for its own bookkeeping; they do not change what the adapter computes. */
    private static final List<String> BOOKKEEPING = List.of("auto_mapping", "base_model_name_or_path", "revision", "inference_mode",
            "peft_version", "peft_type");

    private PeftConfigFields() {}

    /**
     * A copy of {@code peftConfig} without the bookkeeping fields, checked to be of {@code peftType}.
     * {@code modules_to_save} (extra trained modules, such as a task head) is refused unless empty.
     */
    public static ObjectNode withoutBookkeeping(JsonNode peftConfig, String peftType) {
        String type = peftConfig.path("peft_type").asText();
        if (!peftType.equals(type)) throw new IllegalArgumentException("peft_type is '" + type + "', expected " + peftType);
        ObjectNode fields = peftConfig.deepCopy();
        BOOKKEEPING.forEach(fields::remove);
        JsonNode modules = fields.remove("modules_to_save");
        if (modules != null && !modules.isNull() && !(modules.isArray() && modules.isEmpty())) {
            throw new IllegalArgumentException("modules_to_save " + modules + " is not supported for " + peftType + " adapters");
        }
        return fields;
    }
}
