package org.peft4j.models;

import java.util.Arrays;
import java.util.List;

/** The model families peft4j implements, and the Hugging Face {@code model_type}s each accepts. */
public enum Architecture {
    BERT(List.of("bert", "roberta", "xlm-roberta", "camembert")),
    GPT2(List.of("gpt2")),
    LLAMA(List.of("llama", "qwen2", "mistral"));

    private final List<String> modelTypes;

    Architecture(List<String> modelTypes) { this.modelTypes = modelTypes; }

    public List<String> modelTypes() { return modelTypes; }

    /** Whether the family is a decoder with a causal LM head. */
    public boolean isDecoder() { return this != BERT; }

    public static Architecture forModelType(String modelType) {
        for (Architecture a : values()) if (a.modelTypes.contains(modelType)) return a;
        throw new IllegalArgumentException("unknown model_type '" + modelType + "'; supported: "
                + Arrays.stream(values()).flatMap(a -> a.modelTypes.stream()).toList());
    }
}
