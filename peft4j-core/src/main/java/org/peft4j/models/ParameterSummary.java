package org.peft4j.models;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameter counts from a config alone (no weights are read), grouped by module: what a user needs to
 * size a 7B model on a laptop.
 */
public record ParameterSummary(long total, long trainable, Map<String, long[]> groups) {

    /** Counts of the base model, everything frozen; groups map to {total, trainable}. */
    public static ParameterSummary ofBase(ModelConfig config) {
        return of(ModelLoader.specs(config), List.of());
    }

    /**
     * Counts of base specs plus trainable specs (adapters, heads). A trainable spec that names a base
     * tensor (BitFit's biases) makes that tensor trainable without adding to the total.
     */
    public static ParameterSummary of(List<ParamSpec> base, List<ParamSpec> trainable) {
        Map<String, long[]> groups = new LinkedHashMap<>();
        java.util.Set<String> baseNames = new java.util.HashSet<>();
        long total = 0, train = 0;
        for (ParamSpec s : base) {
            groups.computeIfAbsent(group(s.name()), k -> new long[2])[0] += s.numel();
            total += s.numel();
            baseNames.add(s.name());
        }
        for (ParamSpec s : trainable) {
            long[] g = groups.computeIfAbsent(group(s.name()), k -> new long[2]);
            if (!baseNames.contains(s.name())) {
                g[0] += s.numel();
                total += s.numel();
            }
            g[1] += s.numel();
            train += s.numel();
        }
        return new ParameterSummary(total, train, groups);
    }

    /**
     * The group of a parameter: inside the layer stack, the layer's part ({@code encoder.layer.3.attention.self.query.weight}
     * → {@code encoder.layer.*.attention}); elsewhere its module's parent ({@code embeddings}), or the module
     * itself directly under a wrapper ({@code model.embed_tokens}, {@code transformer.wte}).
     */
    static String group(String name) {
        String[] parts = name.split("\\.");
        int index = -1;
        for (int i = 0; i < parts.length - 1; i++) {
            if (parts[i].chars().allMatch(Character::isDigit) && !parts[i].isEmpty()) {
                index = i;
                break;
            }
        }
        int modules = parts.length - 1;
        boolean wrapped = parts[0].equals("model") || parts[0].equals("transformer");
        int keep = index >= 0 ? Math.min(index + 2, modules) : modules <= 1 || (wrapped && modules == 2) ? modules : modules - 1;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < keep; i++) {
            if (i > 0) sb.append('.');
            sb.append(i == index ? "*" : parts[i]);
        }
        return sb.toString();
    }
}
