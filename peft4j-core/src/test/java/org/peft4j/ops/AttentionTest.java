package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class AttentionTest {

    // ------------------------------------------------------------------ gradient checks (F64)

    @Test
    void gradientsGroupedQueriesMoreKeysThanQueries() {
        check(2, 4, 2, 3, 5, 3, null, false, 0.7, 1);
    }

    @Test
    void gradientsSameHeadCountCausal() {
        check(1, 3, 3, 4, 4, 3, null, true, 0.5, 2);
    }

    @Test
    void gradientsSingleQuery() {
        check(2, 2, 1, 1, 4, 2, null, false, 0.6, 3);
        check(2, 2, 1, 1, 4, 2, new long[] {1, 0, 1, 1, 0, 1, 1, 1}, true, 0.6, 4);
    }

    @Test
    void gradientsCausalWithPrefixKeys() {
        // two prefix keys in front of three tokens; batch row 1 has its first token padded out
        long[] mask = {1, 1, 1, 1, 1, 1, 1, 0, 1, 1};
        check(2, 4, 2, 3, 5, 3, mask, true, 0.7, 5);
    }

    @Test
    void gradientsWithFullyMaskedRows() {
        // left padding with a causal mask: batch row 1's first query sees only a padded key
        check(2, 2, 1, 3, 3, 3, new long[] {1, 1, 1, 0, 1, 1}, true, 0.8, 6);
        // batch row 1 has no visible key at all
        check(2, 2, 2, 2, 3, 2, new long[] {1, 0, 1, 0, 0, 0}, false, 0.8, 7);
    }

    @Test
    void gradientsThroughNonContiguousViews() {
        int b = 2, hq = 4, hkv = 2, t = 3, s = 5, d = 3;
        // q, k, v as the head split of linear outputs: [B, T, H, D] transposed to [B, H, T, D]
        Tensor q = GradCheck.randn(11, b, t, hq, d), k = GradCheck.randn(12, b, s, hkv, d), v = GradCheck.randn(13, b, s, hkv, d);
        Tensor mask = Tensor.of(new long[] {1, 1, 1, 1, 1, 0, 1, 1, 1, 1}, b, s);
        GradCheck.check("sdpa views", in -> Attention.sdpa(in[0].transpose(1, 2), in[1].transpose(1, 2),
                in[2].transpose(1, 2), mask, true, 0.6), q, k, v);
    }

    @Test
    void gradientsOnlyForInputsThatNeedThem() {
        Tensor q = GradCheck.randn(21, 1, 2, 3, 4), k = GradCheck.randn(22, 1, 1, 5, 4).detach(), v = GradCheck.randn(23, 1, 1, 5, 4);
        GradCheck.check("sdpa frozen k", in -> Attention.sdpa(in[0], in[1], in[2], null, true, 0.5), q, k, v);
        assertNull(k.grad());
        Tensor qf = randomF32(24, 1, 2, 3, 4).requiresGrad(true), kf = randomF32(25, 1, 1, 5, 4), vf = randomF32(26, 1, 1, 5, 4);
        Autograd.backward(Attention.sdpa(qf, kf, vf, null, false, 0.5), Tensor.ones(1, 2, 3, 4));
        assertNotNull(qf.grad());
        assertNull(kf.grad());
        assertNull(vf.grad());
    }

    /** Gradient check of q, k and v together, plus the F64 forward against the explicit formula. */
    private static void check(int b, int hq, int hkv, int t, int s, int d, long[] mask, boolean causal, double scale, long seed) {
        Tensor q = GradCheck.randn(seed * 10 + 1, b, hq, t, d);
        Tensor k = GradCheck.randn(seed * 10 + 2, b, hkv, s, d);
        Tensor v = GradCheck.randn(seed * 10 + 3, b, hkv, s, d);
        Tensor m = mask == null ? null : Tensor.of(mask, b, s);
        String name = "sdpa B" + b + " Hq" + hq + " Hkv" + hkv + " T" + t + " S" + s + " D" + d + (causal ? " causal" : "");
        GradCheck.check(name, in -> Attention.sdpa(in[0], in[1], in[2], m, causal, scale), q, k, v);
        double[] expected = naive(q, k, v, m, causal, scale);
        double err = GradCheck.relError(Attention.sdpa(q, k, v, m, causal, scale).toDoubleArray(), expected);
        assertTrue(err < 1e-12, name + " forward error " + err);
    }

    // ------------------------------------------------------------------ F32 against F64

    @Test
    void f32MatchesReferenceOnBiggerShapes() {
        compareF32(2, 6, 6, 37, 37, 32, null, false, 1);
        compareF32(2, 6, 6, 37, 37, 32, paddingMask(2, 37, 5), true, 2);
    }

    @Test
    void f32MatchesReferenceGroupedPrefixAndOddHeadSize() {
        compareF32(2, 6, 2, 37, 45, 32, paddingMask(2, 45, 3), true, 3);
        compareF32(2, 6, 3, 37, 45, 20, paddingMask(2, 45, 4), false, 4);
        compareF32(3, 2, 1, 5, 9, 3, null, true, 5);
    }

    @Test
    void f32SkipsKeysPaddedForAWholeBatchRow() {
        // row 0 right-padded after 29 keys, row 1 left-padded by 21 keys with a hole, row 2 has no key
        int s = 53;
        long[] mask = new long[3 * s];
        for (int j = 0; j < s; j++) {
            mask[j] = j < 29 ? 1 : 0;
            mask[s + j] = j >= 21 && j != 40 ? 1 : 0;
        }
        compareF32(3, 4, 2, 37, s, 32, mask, true, 7);
        compareF32(3, 2, 2, 19, s, 8, mask, false, 8);
    }

    @Test
    void f32GradientsThroughHeadSplitViews() {
        compareF32(2, 6, 2, 37, 37, 32, paddingMask(2, 37, 6), true, 6, true);
    }

    @Test
    void f32FullyMaskedRowsAreZeroWithoutNaN() {
        long[] mask = new long[2 * 19];
        for (int j = 0; j < 19; j++) mask[j] = 1;
        mask[19 + 18] = 1;
        Tensor m = Tensor.of(mask, 2, 19);
        Tensor q = randomF32(31, 2, 3, 19, 16).requiresGrad(true), k = randomF32(32, 2, 3, 19, 16).requiresGrad(true);
        Tensor v = randomF32(33, 2, 3, 19, 16).requiresGrad(true);
        Tensor out = Attention.sdpa(q, k, v, m, true, 0.25);
        // batch row 1 only shows its last key, which causally only its last query can see
        for (int h = 0; h < 3; h++) {
            for (int i = 0; i < 18; i++) {
                for (int d = 0; d < 16; d++) assertEquals(0.0, out.get(1, h, i, d));
            }
        }
        Autograd.backward(out, Tensor.ones(out.shape()));
        for (Tensor g : new Tensor[] {q.grad(), k.grad(), v.grad()}) {
            for (float x : g.toFloatArray()) assertTrue(Float.isFinite(x));
        }
        assertEquals(0.0, q.grad().get(1, 0, 0, 0));
    }

    @Test
    void f32ReadsViewsAndOtherStorageTypes() {
        int b = 2, h = 4, t = 21, d = 32;
        Tensor qBase = randomF32(41, b, t, h, d), kBase = randomF32(42, b, t, h, d);
        Tensor vBf16 = randomF32(43, b, h, t, d).to(DType.BF16);
        Tensor q = qBase.transpose(1, 2), k = kBase.transpose(1, 2);
        double[] expected = naive(q, k, vBf16, null, true, 0.2);
        double err = GradCheck.relError(Attention.sdpa(q, k, vBf16, null, true, 0.2).toDoubleArray(), expected);
        assertTrue(err < 1e-5, "forward error on views " + err);
    }

    @Test
    void rejectsMismatchedShapes() {
        Tensor q = Tensor.zeros(1, 3, 2, 4), k = Tensor.zeros(1, 2, 2, 4);
        assertThrows(IllegalArgumentException.class, () -> Attention.sdpa(q, k, k, null, false, 1));
        Tensor k1 = Tensor.zeros(1, 1, 5, 4);
        assertThrows(IllegalArgumentException.class, () -> Attention.sdpa(q, k1, k1, Tensor.zeros(1, 4), false, 1));
        assertThrows(IllegalArgumentException.class, () -> Attention.sdpa(q, k1, Tensor.zeros(1, 1, 5, 3), null, false, 1));
    }

    /**
     * F32 forward against the explicit formula, and F32 gradients against the F64 op's (which the
     * gradient checks cover), both within 1e-5 of the largest value.
     */
    private static void compareF32(int b, int hq, int hkv, int t, int s, int d, long[] mask, boolean causal, long seed) {
        compareF32(b, hq, hkv, t, s, d, mask, causal, seed, false);
    }

    /** As above; with {@code views} the leaves are [B, T, H, D] and the op reads their transposes. */
    private static void compareF32(int b, int hq, int hkv, int t, int s, int d, long[] mask, boolean causal, long seed,
                                   boolean views) {
        Tensor q = (views ? randomF32(seed * 10 + 1, b, t, hq, d) : randomF32(seed * 10 + 1, b, hq, t, d)).requiresGrad(true);
        Tensor k = (views ? randomF32(seed * 10 + 2, b, s, hkv, d) : randomF32(seed * 10 + 2, b, hkv, s, d)).requiresGrad(true);
        Tensor v = (views ? randomF32(seed * 10 + 3, b, s, hkv, d) : randomF32(seed * 10 + 3, b, hkv, s, d)).requiresGrad(true);
        Tensor m = mask == null ? null : Tensor.of(mask, b, s);
        double scale = 1 / Math.sqrt(d);
        String name = "B" + b + " Hq" + hq + " Hkv" + hkv + " T" + t + " S" + s + " D" + d + (causal ? " causal" : "")
                + (views ? " views" : "");
        java.util.function.UnaryOperator<Tensor> heads = x -> views ? x.transpose(1, 2) : x;

        Tensor out = Attention.sdpa(heads.apply(q), heads.apply(k), heads.apply(v), m, causal, scale);
        assertEquals(DType.F32, out.dtype());
        double err = GradCheck.relError(out.toDoubleArray(),
                naive(heads.apply(q), heads.apply(k), heads.apply(v), m, causal, scale));
        assertTrue(err < 1e-5, name + ": forward error " + err);

        Tensor w = randomF32(seed * 10 + 4, b, hq, t, d);
        Autograd.backward(out, w);
        Tensor q64 = q.detachedCopy(DType.F64).requiresGrad(true), k64 = k.detachedCopy(DType.F64).requiresGrad(true);
        Tensor v64 = v.detachedCopy(DType.F64).requiresGrad(true);
        Autograd.backward(Attention.sdpa(heads.apply(q64), heads.apply(k64), heads.apply(v64), m, causal, scale),
                w.detachedCopy(DType.F64));
        String[] names = {"dq", "dk", "dv"};
        Tensor[] got = {q.grad(), k.grad(), v.grad()}, want = {q64.grad(), k64.grad(), v64.grad()};
        for (int i = 0; i < 3; i++) {
            double e = GradCheck.relError(got[i].toDoubleArray(), want[i].toDoubleArray());
            assertTrue(e < 1e-5, name + ": " + names[i] + " error " + e);
        }
    }

    /** Mask [B, S] whose row b starts with b·pad zeros (left padding). */
    private static long[] paddingMask(int b, int s, int pad) {
        long[] mask = new long[b * s];
        for (int r = 0; r < b; r++) {
            for (int j = 0; j < s; j++) mask[r * s + j] = j < r * pad ? 0 : 1;
        }
        return mask;
    }

    private static Tensor randomF32(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    /** softmax(q·kᵀ·scale + mask)·v with the whole score matrix written out, in float64. */
    private static double[] naive(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        int b = q.size(0), hq = q.size(1), t = q.size(2), d = q.size(3), hkv = k.size(1), s = k.size(2);
        double[] out = new double[b * hq * t * d];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < hq; h++) {
                int kh = h / (hq / hkv);
                double[][] scores = new double[t][s];
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < s; j++) {
                        double dot = 0;
                        for (int x = 0; x < d; x++) dot += q.get(bi, h, i, x) * k.get(bi, kh, j, x);
                        boolean visible = (mask == null || mask.get(bi, j) != 0) && (!causal || j <= i + s - t);
                        scores[i][j] = dot * scale + (visible ? 0 : Double.NEGATIVE_INFINITY);
                    }
                }
                for (int i = 0; i < t; i++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < s; j++) max = Math.max(max, scores[i][j]);
                    if (max == Double.NEGATIVE_INFINITY) continue;
                    for (int j = 0; j < s; j++) sum += Math.exp(scores[i][j] - max);
                    for (int j = 0; j < s; j++) {
                        double p = Math.exp(scores[i][j] - max) / sum;
                        for (int x = 0; x < d; x++) out[((bi * hq + h) * t + i) * d + x] += p * v.get(bi, kh, j, x);
                    }
                }
            }
        }
        return out;
    }
}
