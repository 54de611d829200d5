package org.peft4j.optim;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * Everything an optimizer needs to resume exactly: the number of completed steps (which also drives
 * the schedule) and its per-parameter state tensors keyed {@code <param name>.<slot>}, e.g.
 * {@code encoder.layer.0.attention.self.query.lora_A.weight.exp_avg}; every parameter with state also
 * has a {@code <param name>.step} I64 scalar counting its own updates. The tensors are detached
 * copies, ready to be saved (e.g. as safetensors with the step in the metadata).
 */
public record OptimizerState(long step, Map<String, Tensor> tensors) {
    public OptimizerState {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }
}
