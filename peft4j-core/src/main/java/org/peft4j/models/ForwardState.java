package org.peft4j.models;

import java.util.Collections;
import java.util.random.RandomGenerator;
import org.peft4j.ops.Dropout;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * What every layer of one forward pass shares: the key mask over cached + new positions [B, S], the
 * cache (or null), rotary tables for decoders that use them, and dropout settings.
 */
public final class ForwardState {
    private Tensor keyMask;
    private final KvCache cache;
    private final boolean training;
    private final RandomGenerator rng;
    private Tensor cos;
    private Tensor sin;
    private int batchCopies = 1;

    public ForwardState(Tensor keyMask, KvCache cache, boolean training, RandomGenerator rng) {
        this.keyMask = keyMask;
        this.cache = cache;
        this.training = training;
        // a training pass without a generator still gets reproducible dropout
        this.rng = rng != null ? rng : new java.util.SplittableRandom(0);
    }

    public Tensor keyMask() { return keyMask; }

    public KvCache cache() { return cache; }

    public boolean training() { return training; }

    /** How many copies of the input batch the hidden states carry: 1, or N once a Parallel block of N adapters replicated it. */
    public int batchCopies() { return batchCopies; }

    /**
     * Replicates the batch {@code n} times from here on (AdapterHub's {@code Parallel} block, at the first
     * adapter site that runs one): later layers see n·B rows, so the key mask is repeated along the batch
     * the same way. A cache (prefix or generation) holds B rows and cannot follow, so it is refused.
     */
    public void replicateBatch(int n) {
        if (batchCopies != 1) throw new IllegalStateException("the batch is already replicated " + batchCopies + " times");
        if (cache != null) throw new IllegalStateException("a Parallel block cannot replicate the batch while a KV cache or prefix is in use");
        if (keyMask != null) keyMask = Shapes.concat(0, Collections.nCopies(n, keyMask));
        batchCopies = n;
    }

    public void rotary(Tensor cos, Tensor sin) {
        this.cos = cos;
        this.sin = sin;
    }

    public Tensor cos() { return cos; }

    public Tensor sin() { return sin; }

    /** Dropout with this pass's generator; the identity outside training or at p = 0. */
    public Tensor dropout(Tensor x, double p) {
        return training && p > 0 ? Dropout.apply(x, p, rng, true) : x;
    }

    /** Splits [B, T, H·D] into heads [B, H, T, D] (a view). */
    public static Tensor heads(Tensor x, int heads, int headDim) {
        int b = x.size(0), t = x.size(1);
        return x.reshape(b, t, heads, headDim).transpose(1, 2);
    }

    /** Merges heads [B, H, T, D] back into [B, T, H·D]. */
    public static Tensor mergeHeads(Tensor x) {
        int b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
        return x.transpose(1, 2).reshape(b, t, h * d);
    }
}
