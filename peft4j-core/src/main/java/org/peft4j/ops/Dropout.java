package org.peft4j.ops;

import static org.peft4j.ops.Elementwise.F;
import static org.peft4j.ops.Elementwise.GRAIN;
import static org.peft4j.ops.Elementwise.L;

import java.util.random.RandomGenerator;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Inverted dropout: in training each element is zeroed with probability p and the survivors are
 * scaled by 1/(1-p), so the expected value is unchanged and inference needs no rescaling.
 *
 * <p>The mask is drawn from a single {@code nextLong()} of the caller's generator: each element is
 * kept when its share of a SplitMix64 hash of (seed, counter) clears the threshold. The same generator state therefore gives
 * the same mask whatever the thread count or dtype, and the mask can be computed in parallel. It is
 * kept as one bit per element for the backward pass.
 */
public final class Dropout {
    /** SplitMix64's counter increment and output-mix multipliers. */
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L, MIX1 = 0xbf58476d1ce4e5b9L, MIX2 = 0x94d049bb133111ebL;
    private static final int WORD = 64;

    private Dropout() {}

    /**
     * Applies dropout with drop probability {@code p} in [0, 1]; returns x itself when not training
     * or p is 0. The gradient is multiplied by the same mask and scale.
     */
    public static Tensor apply(Tensor x, double p, RandomGenerator rng, boolean training) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1], got " + p);
        if (!training || p == 0) return x;
        Mask mask = new Mask(rng.nextLong(), p, Math.toIntExact(x.numel()));
        double scale = p == 1 ? 0 : 1 / (1 - p);
        Tensor out = mask.apply(x, scale);
        return Autograd.record(out, "dropout", g -> new Tensor[] {mask.apply(g, scale)}, x);
    }

    /**
     * The kept elements of one dropout call, one bit each, word w holding elements [64w, 64w + 64).
     * Counter c = 32w + k (k < 32) is hashed once; its low 32 bits decide element 64w + k and its
     * high 32 bits element 64w + 32 + k. The mapping does not depend on the vector width, so every
     * machine draws the same mask from the same seed.
     */
    private static final class Mask {
        private static final VectorSpecies<Long> S = LongVector.SPECIES_PREFERRED;
        /** k·γ for k < 32, the counter offsets within a word. */
        private static final long[] OFFSETS = new long[WORD / 2];

        static {
            for (int k = 0; k < OFFSETS.length; k++) OFFSETS[k] = k * GOLDEN_GAMMA;
        }

        private final long[] words;
        private final int n;

        Mask(long seed, double p, int n) {
            this.n = n;
            this.words = new long[(n + WORD - 1) / WORD];
            // An element survives when its 32-bit uniform is >= p·2³² (never, for p = 1).
            long threshold = Math.round(p * 0x1p32);
            Parallel.forRange(words.length, Math.max(1, GRAIN / WORD), (s, e) -> {
                for (int w = s; w < e; w++) {
                    long base = seed + w * (long) (WORD / 2) * GOLDEN_GAMMA;
                    long low = 0, high = 0;
                    for (int k = 0; k < WORD / 2; k += S.length()) {
                        LongVector z = LongVector.fromArray(S, OFFSETS, k).add(base);
                        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(MIX1);
                        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(MIX2);
                        z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
                        low |= z.and(0xffffffffL).compare(VectorOperators.GE, threshold).toLong() << k;
                        high |= z.lanewise(VectorOperators.LSHR, 32).compare(VectorOperators.GE, threshold).toLong() << k;
                    }
                    words[w] = low | high << (WORD / 2);
                }
            });
        }

        boolean kept(int i) { return (words[i / WORD] >>> (i % WORD) & 1) != 0; }

        /** t · mask · scale as a fresh tensor of t's shape and compute type. */
        Tensor apply(Tensor t, double scale) {
            int[] shape = t.shape();
            if (t.computeType() == DType.F64) {
                double[] v = Elementwise.doublesOf(t);
                double[] o = new double[n];
                for (int i = 0; i < n; i++) o[i] = kept(i) ? v[i] * scale : 0;
                return Tensor.of(o, shape);
            }
            float[] v = Elementwise.floatsOf(t);
            float[] o = Workspace.floats(n);
            float fs = (float) scale;
            int full = n / WORD;
            Parallel.forRange(full, Math.max(1, GRAIN / WORD), (s, e) -> {
                FloatVector vs = FloatVector.broadcast(F, fs);
                for (int w = s; w < e; w++) {
                    long bits = words[w];
                    int base = w * WORD;
                    // A masked load reads zeros for dropped lanes; WORD is a multiple of every vector length.
                    for (int j = 0; j < WORD; j += L) {
                        VectorMask<Float> m = VectorMask.fromLong(F, bits >>> j);
                        FloatVector.fromArray(F, v, base + j, m).mul(vs).intoArray(o, base + j);
                    }
                }
            });
            for (int i = full * WORD; i < n; i++) o[i] = kept(i) ? v[i] * fs : 0f;
            return Tensor.of(o, shape);
        }
    }
}
