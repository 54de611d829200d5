package org.peft4j.adapters.lora;

import java.util.Locale;
import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/**
 * How fresh LoRA matrices start, under the names of PEFT's {@code init_lora_weights} (plus AdapterHub's
 * {@code bert}). Every choice but {@link #RANDOM} and {@link #BERT} leaves B at zero, so a new adapter
 * does not change the model's output.
 */
public enum LoraInit {
    /** PEFT's default ({@code true}): A kaiming-uniform with a = √5 (bound 1/√in), B zero. */
    KAIMING("true"),
    /** PEFT's {@code false}: both as torch.nn.Linear initialises them (B non-zero, for tests). */
    RANDOM("false"),
    /** PEFT's {@code gaussian}: A normal with std 1/r, B zero. */
    GAUSSIAN("gaussian"),
    /** AdapterHub's {@code init_weights: bert}: A and B normal with std 0.02. */
    BERT("bert");

    private final String value;

    LoraInit(String value) { this.value = value; }

    /** The spelling in configs ({@code true}, {@code false}, {@code gaussian}, {@code bert}). */
    public String value() { return value; }

    /** The choice spelled {@code text} (case-insensitive), or an error listing the valid ones. */
    public static LoraInit parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        for (LoraInit i : values()) if (i.value.equals(t)) return i;
        throw new IllegalArgumentException("lora: field 'init_lora_weights' is '" + text + "'; valid: true, false, gaussian, bert");
    }

    /** Fills A [r, in]. */
    void initA(Tensor a, RandomGenerator rng) {
        switch (this) {
            case KAIMING, RANDOM -> uniform(a, 1 / Math.sqrt(a.size(1)), rng);
            case GAUSSIAN -> normal(a, 1.0 / a.size(0), rng);
            case BERT -> normal(a, 0.02, rng);
        }
    }

    /** Fills B [out, r]. */
    void initB(Tensor b, RandomGenerator rng) {
        switch (this) {
            case KAIMING, GAUSSIAN -> { } // fresh tensors are zero
            case RANDOM -> uniform(b, 1 / Math.sqrt(b.size(1)), rng);
            case BERT -> normal(b, 0.02, rng);
        }
    }

    /** U(-bound, bound), which is torch's kaiming_uniform_(a=√5) when bound = 1/√fan_in. */
    static void uniform(Tensor t, double bound, RandomGenerator rng) {
        for (long i = 0, n = t.numel(); i < n; i++) t.setFlat(i, rng.nextDouble(-bound, bound));
    }

    static void normal(Tensor t, double std, RandomGenerator rng) {
        for (long i = 0, n = t.numel(); i < n; i++) t.setFlat(i, rng.nextGaussian() * std);
    }
}
