package org.peft4j.adapters;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * One adapter method: parses its configuration and installs it into a model. Implementations are
 * listed in {@code META-INF/services/org.peft4j.adapters.AdapterMethod} and found by the
 * {@link MethodRegistry}.
 */
public interface AdapterMethod {
    /** The canonical name ({@code lora}). */
    String name();

    /** Other names that select this method with the same defaults ({@code pfeiffer} for {@code seq_bn}). */
    default List<String> aliases() { return List.of(); }

    /** The config from the string form's arguments; unknown fields are an error listing the valid ones. */
    MethodConfig parse(ConfigArgs args);

    /** The config from its JSON form ({@link MethodConfig#toJson()}). */
    default MethodConfig fromJson(JsonNode json) { return parse(ConfigArgs.fromJson(name(), json)); }

    /**
     * Installs adapter {@code adapterName} into the model. New parameters are found by the caller as the
     * tensors that appear in the module tree; an install that instead unfreezes existing tensors (BitFit)
     * returns their dotted names.
     */
    List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed);

    /** Undoes what {@link #install} changed in the base model itself (BitFit's biases); adapter containers are removed by the model. */
    default void uninstall(PeftModel model, String adapterName) {}

    /** The trainable parameters this config would add to a model, by name and shape, without building it. */
    Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config);
}
