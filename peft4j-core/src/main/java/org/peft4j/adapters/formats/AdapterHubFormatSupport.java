package org.peft4j.adapters.formats;

import com.fasterxml.jackson.databind.JsonNode;
import org.peft4j.adapters.MethodConfig;

/**
 * Implemented by methods AdapterHub {@code adapters} has: reading its {@code adapter_config.json}
 * ({@code config} object) and {@code adapter.safetensors} keys.
 */
public interface AdapterHubFormatSupport {
    /** Whether this method reads the given AdapterHub {@code config} object (by "architecture" or by its fields). */
    boolean accepts(JsonNode adapterHubConfig);

    /** The config from AdapterHub's {@code config} object; unsupported settings are an error naming the field. */
    MethodConfig fromAdapterHubConfig(JsonNode adapterHubConfig);

    /**
     * The peft4j tensor name of an AdapterHub key ({@code encoder.layer.0.output.adapters.<name>.adapter_up.weight}),
     * or null if the key is not this method's. AdapterHub keys may carry a base-model prefix
     * ({@code bert.}, {@code roberta.}, {@code model.} for some classes): the caller strips the prefixes
     * the base model does not have before asking.
     */
    String treeName(String adapterHubKey, String adapterName);
}
