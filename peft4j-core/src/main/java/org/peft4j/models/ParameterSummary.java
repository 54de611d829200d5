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

    /** {@code encoder.layer.3.attention.self.query.weight} → {@code encoder.layer.*.attention.self}. */
    static String group(String name) {
        String[] parts = name.split("\\.");
        StringBuilder sb = new StringBuilder();
        int keep = Math.max(1, parts.length - 2);
        for (int i = 0; i < keep; i++) {
            if (i > 0) sb.append('.');
            sb.append(parts[i].chars().allMatch(Character::isDigit) ? "*" : parts[i]);
        }
        return sb.toString();
    }
}
