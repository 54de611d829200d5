package org.peft4j.adapters.formats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.MethodConfig;

/**
 * Implemented by the methods Hugging Face PEFT has (LoRA, DoRA, IA3, prefix, prompt, LoHa, LoKr): how
 * their {@code adapter_config.json} and {@code adapter_model.safetensors} keys map to peft4j.
 */
public interface PeftFormatSupport {
    /** The {@code peft_type} values this method reads ("LORA"). */
    java.util.List<String> peftTypes();

    /** The config from PEFT's adapter_config.json; unsupported settings are an error naming the field. */
    MethodConfig fromPeftConfig(JsonNode peftConfig);

    /** PEFT's adapter_config.json for this config, with PEFT's exact field names. */
    ObjectNode toPeftConfig(MethodConfig config);

    /** As {@link #toPeftConfig(MethodConfig)} with the defaults the model implies written out (target modules, fan_in_fan_out). */
    default ObjectNode toPeftConfig(MethodConfig config, org.peft4j.models.ModelConfig model) { return toPeftConfig(config); }

    /**
     * The peft4j tensor name (dotted, as in {@link org.peft4j.adapters.PeftModel#namedParameters()}) of a
     * saved PEFT key ({@code base_model.model.encoder.layer.0.attention.self.query.lora_A.weight}), or
     * null if the key is not this method's.
     */
    String treeName(String peftKey, String adapterName);

    /** The saved PEFT key of a peft4j tensor name of adapter {@code adapterName}. */
    String peftKey(String treeName, String adapterName);

    /**
     * The name PEFT gives the tensor in memory (the gradient names of the fixtures): by default the
     * saved key with {@code .<adapter>} inserted before the last component.
     */
    default String peftMemoryName(String peftKey, String adapterName) {
        int dot = peftKey.lastIndexOf('.');
        return peftKey.substring(0, dot) + "." + adapterName + peftKey.substring(dot);
    }
}
