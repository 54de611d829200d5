package org.peft4j.adapters.formats;

import java.util.Map;

/**
 * An adapter read from a folder: its name on the model, its format, and how the names the format
 * gives its tensors in memory (PEFT: {@code ...lora_A.default.weight}; AdapterHub: the saved key) map
 * to peft4j's tensor names.
 */
public record LoadedAdapter(String name, AdapterFormat format, Map<String, String> memoryNameToTree) {
    public LoadedAdapter {
        memoryNameToTree = Map.copyOf(memoryNameToTree);
    }
}
