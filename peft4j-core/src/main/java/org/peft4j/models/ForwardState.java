package org.peft4j.models;

import java.util.random.RandomGenerator;
import org.peft4j.ops.Dropout;
import org.peft4j.tensor.Tensor;

/**
 * What every layer of one forward pass shares: the key mask over cached + new positions [B, S], the
 * cache (or null), rotary tables for decoders that use them, and dropout settings.
 */
public final class ForwardState {
    private final Tensor keyMask;
    private final KvCache cache;
    private final boolean training;
    private final RandomGenerator rng;
    private Tensor cos;
    private Tensor sin;

    public ForwardState(Tensor keyMask, KvCache cache, boolean training, RandomGenerator rng) {
        this.keyMask = keyMask;
        this.cache = cache;
        this.training = training;
        this.rng = rng;
    }

    public Tensor keyMask() { return keyMask; }

    public KvCache cache() { return cache; }

    public boolean training() { return training; }

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
