package org.peft4j.models;

import java.util.List;

/**
 * Decoding settings as in Hugging Face's {@code generate()}: greedy when {@code temperature} is 0,
 * otherwise sampling with temperature, then top-k, then top-p (nucleus) filtering, from {@code seed}.
 */
public record GenerationConfig(int maxNewTokens, double temperature, int topK, double topP, long seed,
                               List<Integer> eosTokenIds) {
    public GenerationConfig {
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
        if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0");
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 keeps every token)");
        if (topP <= 0 || topP > 1) throw new IllegalArgumentException("topP must be in (0, 1]");
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    public static GenerationConfig greedy(int maxNewTokens, List<Integer> eos) {
        return new GenerationConfig(maxNewTokens, 0, 0, 1.0, 0, eos);
    }

    public boolean isGreedy() { return temperature == 0; }
}
