package org.peft4j.adapters.loha;

import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.LinearAdapter;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;

/**
 * An additive weight update {@code y = base(x) + x·ΔWᵀ} built from factors (LoHa, LoKr), with PEFT's
 * LyCORIS training-time dropouts: {@code module_dropout} skips the whole update with that probability,
 * {@code rank_dropout} zeroes rows of ΔW (output features), optionally rescaling the kept rows by the
 * inverse of their fraction. Both are drawn from this layer's own seeded generator.
 */
public abstract class LycorisLinear implements LinearAdapter {
    protected final String name;
    protected final double scaling;
    private final double rankDropout;
    private final boolean rescaleRanks;
    private final double moduleDropout;
    private final SplittableRandom rng;

    protected LycorisLinear(String name, double scaling, double rankDropout, boolean rescaleRanks, double moduleDropout, long seed) {
        this.name = name;
        this.scaling = scaling;
        this.rankDropout = rankDropout;
        this.rescaleRanks = rescaleRanks;
        this.moduleDropout = moduleDropout;
        this.rng = new SplittableRandom(seed);
    }

    /** α/r of this layer. */
    public double scaling() { return scaling; }

    /** {@code x·ΔWᵀ} (scaled, without dropout) for input x [..., in]. */
    protected abstract Tensor update(Tensor x, AdaptedLinear layer);

    /** The adapter's tensor in container {@code container} of {@code layer}. */
    protected Tensor tensor(AdaptedLinear layer, String container) {
        Tensor t = layer.hasChild(container) ? layer.child(container).parameter(name) : null;
        if (t == null) throw new IllegalStateException("adapter '" + name + "' has no tensor " + container + " on this layer");
        return t;
    }

    @Override
    public Tensor transformOutput(Tensor x, Tensor out, AdaptedLinear layer) {
        boolean training = layer.isTraining();
        RandomGenerator draws = layer.context().dropoutRng(rng);
        // PEFT keeps the module when a uniform draw exceeds module_dropout.
        if (training && moduleDropout > 0 && draws.nextDouble() <= moduleDropout) return out;
        Tensor delta = update(x, layer);
        if (training && rankDropout > 0) delta = Elementwise.mul(delta, rowMask(layer.outFeatures(), delta, draws));
        return Elementwise.add(out, delta);
    }

    /** Keeps each output feature with probability 1 - rank_dropout; kept ones scaled by 1/(kept fraction) if rescaling. */
    private Tensor rowMask(int out, Tensor like, RandomGenerator draws) {
        double[] keep = new double[out];
        int kept = 0;
        for (int i = 0; i < out; i++) {
            if (draws.nextDouble() > rankDropout) {
                keep[i] = 1;
                kept++;
            }
        }
        if (rescaleRanks && kept > 0) {
            for (int i = 0; i < out; i++) keep[i] *= (double) out / kept;
        }
        return Tensor.of(keep, out).to(like.dtype());
    }
}
