package org.peft4j.adapters.formats;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.adapters.PeftModel;

/** Implemented by AdapterFusion: reading and writing fusion folders over adapters already on the model. */
public interface FusionFormatSupport {
    /**
     * Reads an AdapterHub ({@code adapter_fusion_config.json} + {@code model_adapter_fusion.safetensors})
     * or peft4j fusion folder and installs its fusion layers; returns saved key → peft4j tensor name.
     */
    Map<String, String> loadFusion(PeftModel model, Path dir) throws IOException;

    /** Saves the fusion layers over {@code adapters} (peft4j's fusion folder format). */
    void saveFusion(PeftModel model, java.util.List<String> adapters, Path dir) throws IOException;
}
