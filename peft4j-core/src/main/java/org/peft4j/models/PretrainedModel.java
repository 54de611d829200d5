package org.peft4j.models;

import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.nn.Module;

/**
 * A loaded model and the memory-mapped checkpoint its weights view; close it when the model is no
 * longer used (the weights become unreadable then).
 */
public record PretrainedModel(ModelConfig config, Module model, SafetensorsCheckpoint checkpoint) implements AutoCloseable {
    @Override
    public void close() {
        if (checkpoint != null) checkpoint.close();
    }
}
