package org.peft4j.adapters.sparse;

import java.util.Locale;

/** How the weights kept at initialisation are scored; the highest scores across the whole adapter are kept. */
public enum SparsityMethod {
    /** Uniformly random positions (seeded). */
    RANDOM,
    /** |w| of the initial weights. */
    MAGNITUDE,
    /** |w · ∂L/∂w| on one or more training batches (Lee et al., 2019), computed by {@link SparseAdapters#snip}. */
    SNIP;

    /** The name in configs ({@code magnitude}). */
    public String key() { return name().toLowerCase(Locale.ROOT); }

    static SparsityMethod parse(String s) {
        for (SparsityMethod m : values()) if (m.key().equalsIgnoreCase(s.trim())) return m;
        throw new IllegalArgumentException("sparsity_method must be random, magnitude or snip, got '" + s + "'");
    }
}
