package org.peft4j.cli;

import java.util.List;
import java.util.Map;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;

/**
 * The learning rate a method trains well at when none is given, for a small encoder such as MiniLM
 * over a few epochs. Methods that add a few full-width matrices (bottleneck adapters, LoRA and its
 * relatives) take 1e-3; methods that train only a handful of vectors move slowly at that rate and take
 * more: Compacter and (IA)³ 3e-3, BitFit and PEFT's prefix 1e-2, prompt tuning 3e-2. AdapterHub's
 * prefix tuning trains its prefixes through an MLP of 2.5M parameters on MiniLM and collapses to the
 * majority class at 5e-3 and 1e-2, so it takes 5e-4 (measured: 0.956 on SpamAssassin). A union of
 * methods takes the smallest rate of its members, so that none of them diverges.
 */
final class MethodDefaults {
    /** The rate of methods not listed in {@link #RATES}. */
    static final double FALLBACK_LR = 1e-3;

    private static final Map<String, Double> RATES = Map.ofEntries(
            Map.entry("seq_bn", 1e-3), Map.entry("double_seq_bn", 1e-3), Map.entry("par_bn", 1e-3),
            Map.entry("scaled_par_bn", 1e-3), Map.entry("sparse_bn", 1e-3),
            Map.entry("lora", 1e-3), Map.entry("loha", 1e-3), Map.entry("lokr", 1e-3),
            Map.entry("compacter", 3e-3), Map.entry("compacter++", 3e-3),
            Map.entry("ia3", 3e-3), Map.entry("ia3_adapterhub", 3e-3),
            Map.entry("bitfit", 1e-2), Map.entry("prefix_tuning", 5e-4), Map.entry("prefix", 1e-2),
            Map.entry("prompt_tuning", 3e-2), Map.entry("fuse", 5e-4));

    private MethodDefaults() {}

    /** The default learning rate of a method specification such as {@code lora[r=8]} or {@code prefix_tuning|par_bn}. */
    static double learningRate(String spec) {
        List<MethodConfig> configs = MethodRegistry.parse(spec);
        double lr = Double.MAX_VALUE;
        for (MethodConfig c : configs) lr = Math.min(lr, RATES.getOrDefault(c.method(), FALLBACK_LR));
        return configs.isEmpty() ? FALLBACK_LR : lr;
    }
}
