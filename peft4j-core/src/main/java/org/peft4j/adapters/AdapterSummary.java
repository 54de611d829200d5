package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ParamSpec;
import org.peft4j.models.ParameterSummary;

/** Parameter counts of a base model plus a method specification, from the config alone. */
public final class AdapterSummary {
    private AdapterSummary() {}

    public static ParameterSummary of(ModelConfig config, String spec) {
        ModelShape shape = ModelShape.of(config);
        List<ParamSpec> trainable = new ArrayList<>();
        for (MethodConfig c : MethodRegistry.parse(spec)) {
            Map<String, int[]> shapes = MethodRegistry.method(c.method()).parameterShapes(shape, "adapter", c);
            shapes.forEach((name, dims) -> trainable.add(new ParamSpec(name, dims)));
        }
        return ParameterSummary.of(shape.parameters(), trainable);
    }
}
