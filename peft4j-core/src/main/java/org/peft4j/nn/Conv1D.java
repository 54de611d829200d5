package org.peft4j.nn;

import org.peft4j.tensor.Tensor;

/** GPT-2's projection: weight stored [in, out], {@code y = x·W + b} (PEFT's {@code fan_in_fan_out}). */
public class Conv1D extends Linear {
    public Conv1D(Tensor weightInOut, Tensor bias) {
        super(weightInOut, bias, true);
    }
}
