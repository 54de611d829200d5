package org.peft4j.ops;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Rotary position embeddings in the "rotate half" layout of Hugging Face's Llama family: dimension i
 * of the first half of a head pairs with dimension i of the second half, and both turn by the angle
 * {@code position · theta^(-2i/D)}.
 */
public final class Rotary {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    /** Elements per parallel chunk: below this a thread hand-off costs more than the work. */
    private static final int GRAIN_ELEMENTS = 1 << 15;

    private Rotary() {}

    /** The cosine and sine tables that {@link #apply} takes: [positions, D] or [B, T, D], F32. */
    public record Tables(Tensor cos, Tensor sin) {}

    /**
     * Tables for positions {@code offset .. offset + positions - 1}, each [positions, headDim]:
     * {@code emb = cat(freqs, freqs)} with {@code freqs[p][i] = (offset + p) · inv_freq[i]}.
     * Like Hugging Face, inv_freq and the product are rounded to float32 (that rounding moves the
     * angles at long positions more than any later step); cos and sin are then evaluated in float64
     * and stored as float32.
     */
    public static Tables tables(int positions, int headDim, double theta, int offset) {
        if (positions < 0) throw new IllegalArgumentException("rotary tables: positions must be >= 0, got " + positions);
        long[] ids = new long[positions];
        for (int p = 0; p < positions; p++) ids[p] = (long) offset + p;
        return tables(ids, headDim, theta, new int[] {positions, headDim});
    }

    /**
     * Tables for explicit positions per batch row ([B, T] integer position ids, e.g. shifted by left
     * padding or a prefix), each [B, T, headDim].
     */
    public static Tables tables(Tensor positionIds, int headDim, double theta) {
        if (positionIds.dim() != 2) {
            throw new IllegalArgumentException("rotary tables: positionIds must be [B, T], got "
                    + Arrays.toString(positionIds.shape()));
        }
        return tables(positionIds.toLongArray(), headDim, theta,
                new int[] {positionIds.size(0), positionIds.size(1), headDim});
    }

    private static Tables tables(long[] positions, int headDim, double theta, int[] shape) {
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary tables: headDim must be even and positive, got " + headDim);
        }
        if (!(theta > 0)) throw new IllegalArgumentException("rotary tables: theta must be positive, got " + theta);
        int half = headDim / 2;
        float[] invFreq = inverseFrequencies(headDim, theta);
        float[] cos = new float[positions.length * headDim];
        float[] sin = new float[cos.length];
        for (int p = 0; p < positions.length; p++) {
            float position = positions[p];
            for (int i = 0; i < half; i++) {
                double angle = position * invFreq[i];
                float c = (float) Math.cos(angle), s = (float) Math.sin(angle);
                cos[p * headDim + i] = c;
                cos[p * headDim + half + i] = c;
                sin[p * headDim + i] = s;
                sin[p * headDim + half + i] = s;
            }
        }
        return new Tables(Tensor.of(cos, shape), Tensor.of(sin, shape));
    }

    /** inv_freq[i] = 1 / theta^(2i / D), each step rounded to float32 as PyTorch does it. */
    private static float[] inverseFrequencies(int headDim, double theta) {
        float[] inv = new float[headDim / 2];
        float base = (float) theta;
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) headDim;
            inv[i] = 1f / (float) Math.pow(base, exponent);
        }
        return inv;
    }

    /**
     * {@code x · cos + rotate_half(x) · sin} with {@code rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2])}.
     *
     * @param x [B, H, T, D] (views such as a transposed [B, T, H, D] are read in place)
     * @param cos [T, D], or [B, T, D] for per-row positions; a constant (no gradient)
     * @param sin as cos
     * @return [B, H, T, D], F64 if any input is F64, else F32; backward flows to x
     */
    public static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        checkShapes(x, cos, sin);
        int[] shape = x.shape();
        boolean perBatch = cos.dim() == 3;
        if (x.dtype() == DType.F64 || cos.dtype() == DType.F64 || sin.dtype() == DType.F64) {
            double[] c = cos.toDoubleArray(), s = sin.toDoubleArray();
            Tensor out = Tensor.of(rotate(x.toDoubleArray(), shape, c, s, perBatch), shape);
            return Autograd.record(out, "rotary", g -> new Tensor[] {
                    Tensor.of(rotate(g.toDoubleArray(), shape, c, transposedSin(s, shape[3]), perBatch), shape)}, x);
        }
        float[] c = cos.floats(), s = sin.floats();
        AttentionRows.Fresh out = AttentionRows.zeros(shape);
        rotate(AttentionRows.of(x), shape, c, s, perBatch, out.rows);
        return Autograd.record(out.tensor(), "rotary", g -> {
            // the gradient is laid out like x so that it passes back through the head-split transpose without a copy
            AttentionRows.Fresh dx = AttentionRows.zerosLike(x);
            rotate(AttentionRows.of(g), shape, c, transposedSin(s, shape[3]), perBatch, dx.rows);
            return new Tensor[] {dx.tensor()};
        }, x);
    }

    /**
     * The sine table whose forward rotation is the transpose of the one by {@code sin}: the rotation
     * maps (x1, x2) to (x1·c1 − x2·s1, x2·c2 + x1·s2), its transpose to (x1·c1 + x2·s2, x2·c2 − x1·s1),
     * which is the same map with sin' = (−s2, −s1).
     */
    private static float[] transposedSin(float[] sin, int headDim) {
        float[] t = new float[sin.length];
        int half = headDim / 2;
        for (int row = 0; row < sin.length; row += headDim) {
            for (int i = 0; i < half; i++) {
                t[row + i] = -sin[row + half + i];
                t[row + half + i] = -sin[row + i];
            }
        }
        return t;
    }

    private static double[] transposedSin(double[] sin, int headDim) {
        double[] t = new double[sin.length];
        int half = headDim / 2;
        for (int row = 0; row < sin.length; row += headDim) {
            for (int i = 0; i < half; i++) {
                t[row + i] = -sin[row + half + i];
                t[row + half + i] = -sin[row + i];
            }
        }
        return t;
    }

    private static void rotate(AttentionRows x, int[] shape, float[] cos, float[] sin, boolean perBatch, AttentionRows out) {
        int heads = shape[1], tokens = shape[2], headDim = shape[3];
        Parallel.forRange(shape[0] * heads * tokens, Math.max(1, GRAIN_ELEMENTS / Math.max(1, headDim)), (start, end) -> {
            for (int row = start; row < end; row++) {
                int t = row % tokens, b = row / (heads * tokens), h = row / tokens % heads;
                int table = ((perBatch ? b * tokens : 0) + t) * headDim;
                rotateRow(x.data, x.row(b, h, t), cos, sin, table, out.data, out.row(b, h, t), headDim / 2);
            }
        });
    }

    /** out = (x1·c1 − x2·s1, x2·c2 + x1·s2) for one head row split into halves x1, x2. */
    private static void rotateRow(float[] x, int xOff, float[] cos, float[] sin, int tOff, float[] out, int oOff, int half) {
        int i = 0;
        for (; i + LANES <= half; i += LANES) {
            FloatVector x1 = FloatVector.fromArray(SPECIES, x, xOff + i);
            FloatVector x2 = FloatVector.fromArray(SPECIES, x, xOff + half + i);
            FloatVector c1 = FloatVector.fromArray(SPECIES, cos, tOff + i);
            FloatVector c2 = FloatVector.fromArray(SPECIES, cos, tOff + half + i);
            FloatVector s1 = FloatVector.fromArray(SPECIES, sin, tOff + i);
            FloatVector s2 = FloatVector.fromArray(SPECIES, sin, tOff + half + i);
            x1.mul(c1).sub(x2.mul(s1)).intoArray(out, oOff + i);
            x2.mul(c2).add(x1.mul(s2)).intoArray(out, oOff + half + i);
        }
        for (; i < half; i++) {
            float x1 = x[xOff + i], x2 = x[xOff + half + i];
            out[oOff + i] = x1 * cos[tOff + i] - x2 * sin[tOff + i];
            out[oOff + half + i] = x2 * cos[tOff + half + i] + x1 * sin[tOff + half + i];
        }
    }

    private static double[] rotate(double[] x, int[] shape, double[] cos, double[] sin, boolean perBatch) {
        int heads = shape[1], tokens = shape[2], headDim = shape[3], half = headDim / 2;
        double[] out = new double[x.length];
        for (int row = 0; row < x.length / headDim; row++) {
            int t = row % tokens, b = row / (heads * tokens);
            int table = ((perBatch ? b * tokens : 0) + t) * headDim, o = row * headDim;
            for (int i = 0; i < half; i++) {
                double x1 = x[o + i], x2 = x[o + half + i];
                out[o + i] = x1 * cos[table + i] - x2 * sin[table + i];
                out[o + half + i] = x2 * cos[table + half + i] + x1 * sin[table + half + i];
            }
        }
        return out;
    }

    private static void checkShapes(Tensor x, Tensor cos, Tensor sin) {
        if (x.dim() != 4 || x.size(3) % 2 != 0) {
            throw new IllegalArgumentException("rotary: x must be [B, H, T, D] with D even, got " + Arrays.toString(x.shape()));
        }
        if (!Arrays.equals(cos.shape(), sin.shape())) {
            throw new IllegalArgumentException("rotary: cos " + Arrays.toString(cos.shape()) + " and sin "
                    + Arrays.toString(sin.shape()) + " differ in shape");
        }
        int[] expected = cos.dim() == 3 ? new int[] {x.size(0), x.size(2), x.size(3)} : new int[] {x.size(2), x.size(3)};
        if (!Arrays.equals(cos.shape(), expected)) {
            throw new IllegalArgumentException("rotary: cos/sin must be [T, D] or [B, T, D] for x "
                    + Arrays.toString(x.shape()) + ", got " + Arrays.toString(cos.shape()));
        }
    }
}
