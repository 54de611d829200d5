package org.peft4j.ops;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Normalisation over the last dimension: LayerNorm (BERT, GPT-2), LayerNorm of a residual sum (BERT's
 * post-LN sublayers) and RMSNorm (Llama, Qwen2, Mistral).
 *
 * <p>Both norms compute per row {@code xhat = (x - mean) * rstd} with {@code rstd = 1 / sqrt(var + eps)};
 * LayerNorm uses the biased variance about the mean (as PyTorch), RMSNorm takes mean 0 so
 * {@code var = mean(x^2)} (as Hugging Face's LlamaRMSNorm, which normalises in float32 and then
 * multiplies by the weight). The output is {@code xhat * weight + bias}.
 *
 * <p>What backward keeps: mean and rstd per row and the normalised input itself (x, which is alive
 * anyway as the caller's tensor, or the residual sum, which addLayerNorm stores only when a gradient
 * is wanted); xhat is recomputed, which costs one subtraction and one multiply per element instead of
 * a second activation-sized array. Weights and biases may be stored as BF16/F16/F32/F64 (frozen
 * pretrained norms); they are converted once per call.
 */
public final class Norms {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int GRAIN_ELEMENTS = 1 << 15;

    private Norms() {}

    /**
     * LayerNorm over the last dimension of {@code x}: {@code (x - mean) / sqrt(var + eps) * weight + bias},
     * with the biased variance; {@code weight} and {@code bias} are [D] or null (absent).
     */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return normalize("layerNorm", x, null, weight, bias, eps, true);
    }

    /**
     * {@code layerNorm(x + residual, weight, bias, eps)} in one pass, without a separate sum tensor
     * when no gradient is recorded. {@code residual} has the shape of {@code x}.
     */
    public static Tensor addLayerNorm(Tensor x, Tensor residual, Tensor weight, Tensor bias, double eps) {
        if (residual == null) throw new IllegalArgumentException("addLayerNorm needs a residual tensor");
        if (!Arrays.equals(x.shape(), residual.shape())) {
            throw new IllegalArgumentException("addLayerNorm residual of shape " + Arrays.toString(residual.shape())
                    + " does not match input of shape " + Arrays.toString(x.shape()));
        }
        return normalize("addLayerNorm", x, residual, weight, bias, eps, true);
    }

    /** RMSNorm over the last dimension: {@code x / sqrt(mean(x^2) + eps) * weight}; weight is [D] or null. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        return normalize("rmsNorm", x, null, weight, null, eps, false);
    }

    private static Tensor normalize(String op, Tensor x, Tensor residual, Tensor weight, Tensor bias, double eps,
            boolean centered) {
        int[] shape = x.shape();
        if (shape.length == 0 || !x.dtype().isFloating()) {
            throw new IllegalArgumentException(op + " needs a floating input [..., D], got " + x.dtype()
                    + Arrays.toString(shape));
        }
        int d = shape[shape.length - 1];
        checkParam(op, "weight", weight, d, shape);
        checkParam(op, "bias", bias, d, shape);
        boolean f64 = isF64(x) || isF64(residual) || isF64(weight) || isF64(bias);
        Tensor[] inputs = residual == null ? new Tensor[] {x, weight, bias} : new Tensor[] {x, residual, weight, bias};
        boolean recording = Autograd.needsGrad(inputs);
        Tensor out = Workspace.zeros(f64 ? DType.F64 : DType.F32, shape);
        if (out.numel() == 0) return out;
        int rows = (int) (out.numel() / d);
        Stats stats = new Stats(centered, rows, d, eps);
        NormBackward backward = f64
                ? forwardF64(x, residual, weight, bias, out, stats, recording)
                : forwardF32(x, residual, weight, bias, out, stats, recording);
        if (!recording) return out;
        boolean wantInput = x.requiresGrad() || (residual != null && residual.requiresGrad());
        boolean wantWeight = weight != null && weight.requiresGrad();
        boolean wantBias = bias != null && bias.requiresGrad();
        boolean wantX = x.requiresGrad(), hasResidual = residual != null, wantResidual = hasResidual && residual.requiresGrad();
        return Autograd.record(out, op, g -> {
            Tensor[] grads = backward.apply(g, wantInput, wantWeight, wantBias);
            Tensor dx = grads[0], dw = grads[1], db = grads[2];
            if (!hasResidual) return new Tensor[] {wantX ? dx : null, dw, db};
            return new Tensor[] {wantX ? dx : null, wantResidual ? dx : null, dw, db};
        }, inputs);
    }

    private static boolean isF64(Tensor t) { return t != null && t.dtype() == DType.F64; }

    private static void checkParam(String op, String name, Tensor p, int d, int[] shape) {
        if (p != null && (p.dim() != 1 || p.size(0) != d)) {
            throw new IllegalArgumentException(op + " " + name + " of shape " + Arrays.toString(p.shape())
                    + " does not match the last dimension of input " + Arrays.toString(shape));
        }
    }

    /** Per-row statistics that forward fills and backward reuses. */
    private record Stats(boolean centered, int rows, int d, double eps, double[] mean, double[] rstd) {
        Stats(boolean centered, int rows, int d, double eps) {
            this(centered, rows, d, eps, new double[rows], new double[rows]);
        }
    }

    /** Gradients [input, weight, bias] (null where not wanted) from the output gradient. */
    @FunctionalInterface
    private interface NormBackward {
        Tensor[] apply(Tensor g, boolean wantInput, boolean wantWeight, boolean wantBias);
    }

    // ---------------------------------------------------------------- F32

    private static NormBackward forwardF32(Tensor x, Tensor residual, Tensor weight, Tensor bias, Tensor out,
            Stats st, boolean recording) {
        int d = st.d;
        float[] xa = x.floats(), y = out.heapFloats();
        float[] ra = residual == null ? null : residual.floats();
        float[] w = weight == null ? filled(d, 1f) : weight.floats();
        float[] b = bias == null ? new float[d] : bias.floats();
        // The rows that get normalised: x itself, or x + residual written into the output (inference)
        // or into an array kept for backward.
        float[] in = ra == null ? xa : recording ? Workspace.floats(xa.length) : y;
        Parallel.forRange(st.rows, Math.max(1, GRAIN_ELEMENTS / d), (s, e) -> {
            for (int r = s; r < e; r++) {
                int off = r * d;
                if (ra != null) addRow(xa, ra, in, off, d);
                float mean = st.centered ? sum(in, off, d) / d : 0f;
                float rstd = (float) (1 / Math.sqrt(sumSquaredDeviation(in, off, d, mean) / d + st.eps));
                st.mean[r] = mean;
                st.rstd[r] = rstd;
                int i = 0;
                for (int bound = F.loopBound(d); i < bound; i += F.length()) {
                    FloatVector.fromArray(F, in, off + i).sub(mean).mul(rstd)
                            .fma(FloatVector.fromArray(F, w, i), FloatVector.fromArray(F, b, i)).intoArray(y, off + i);
                }
                for (; i < d; i++) y[off + i] = (in[off + i] - mean) * rstd * w[i] + b[i];
            }
        });
        int[] shape = out.shape(); // not the output itself: backward needs only its shape
        return (g, wantInput, wantWeight, wantBias) -> backwardF32(in, g.floats(), w, st, shape,
                wantInput, wantWeight, wantBias);
    }

    private static Tensor[] backwardF32(float[] in, float[] g, float[] w, Stats st, int[] shape, boolean wantInput,
            boolean wantWeight, boolean wantBias) {
        int d = st.d;
        Tensor dx = wantInput ? Workspace.zeros(DType.F32, shape) : null;
        float[] dxa = wantInput ? dx.heapFloats() : null;
        // Weight and bias gradients are sums over rows: each chunk sums its rows, chunks are added in
        // row order so the result does not depend on thread timing.
        Map<Integer, float[][]> partials = new ConcurrentSkipListMap<>();
        Parallel.forRange(st.rows, Math.max(1, GRAIN_ELEMENTS / d), (s, e) -> {
            float[] pw = wantWeight ? new float[d] : null, pb = wantBias ? new float[d] : null;
            for (int r = s; r < e; r++) {
                backwardRowF32(in, g, w, r * d, d, (float) st.mean[r], (float) st.rstd[r], st.centered, dxa, pw, pb);
            }
            partials.put(s, new float[][] {pw, pb});
        });
        float[] dw = wantWeight ? new float[d] : null, db = wantBias ? new float[d] : null;
        for (float[][] p : partials.values()) {
            if (dw != null) addInto(dw, p[0]);
            if (db != null) addInto(db, p[1]);
        }
        return new Tensor[] {dx, dw == null ? null : Tensor.of(dw, d), db == null ? null : Tensor.of(db, d)};
    }

    /**
     * One row of the norm's backward: with gh = g * w, dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
     * (RMSNorm drops the mean(gh) term); dw += g * xhat, db += g.
     */
    private static void backwardRowF32(float[] in, float[] g, float[] w, int off, int d, float mean, float rstd,
            boolean centered, float[] dx, float[] dw, float[] db) {
        FloatVector accG = FloatVector.zero(F), accGx = FloatVector.zero(F);
        int i = 0, bound = F.loopBound(d);
        for (; i < bound; i += F.length()) {
            FloatVector xhat = FloatVector.fromArray(F, in, off + i).sub(mean).mul(rstd);
            FloatVector gv = FloatVector.fromArray(F, g, off + i);
            FloatVector gh = gv.mul(FloatVector.fromArray(F, w, i));
            accG = accG.add(gh);
            accGx = gh.fma(xhat, accGx);
            if (dw != null) gv.fma(xhat, FloatVector.fromArray(F, dw, i)).intoArray(dw, i);
            if (db != null) gv.add(FloatVector.fromArray(F, db, i)).intoArray(db, i);
        }
        float sumG = accG.reduceLanes(VectorOperators.ADD), sumGx = accGx.reduceLanes(VectorOperators.ADD);
        for (; i < d; i++) {
            float xhat = (in[off + i] - mean) * rstd, gh = g[off + i] * w[i];
            sumG += gh;
            sumGx += gh * xhat;
            if (dw != null) dw[i] += g[off + i] * xhat;
            if (db != null) db[i] += g[off + i];
        }
        if (dx == null) return;
        float meanG = centered ? sumG / d : 0f, meanGx = sumGx / d;
        for (i = 0; i < bound; i += F.length()) {
            FloatVector xhat = FloatVector.fromArray(F, in, off + i).sub(mean).mul(rstd);
            FloatVector gh = FloatVector.fromArray(F, g, off + i).mul(FloatVector.fromArray(F, w, i));
            gh.sub(meanG).sub(xhat.mul(meanGx)).mul(rstd).intoArray(dx, off + i);
        }
        for (; i < d; i++) {
            float xhat = (in[off + i] - mean) * rstd;
            dx[off + i] = (g[off + i] * w[i] - meanG - xhat * meanGx) * rstd;
        }
    }

    private static void addRow(float[] a, float[] b, float[] out, int off, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, a, off + i).add(FloatVector.fromArray(F, b, off + i)).intoArray(out, off + i);
        }
        for (; i < n; i++) out[off + i] = a[off + i] + b[off + i];
    }

    private static float sum(float[] a, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) acc = acc.add(FloatVector.fromArray(F, a, off + i));
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[off + i];
        return s;
    }

    /** Sum of (a - mean)^2 over one row: the second pass of the two-pass variance, stable for large means. */
    private static float sumSquaredDeviation(float[] a, int off, int n, float mean) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector c = FloatVector.fromArray(F, a, off + i).sub(mean);
            acc = c.fma(c, acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float c = a[off + i] - mean;
            s += c * c;
        }
        return s;
    }

    private static void addInto(float[] dst, float[] src) {
        for (int i = 0; i < dst.length; i++) dst[i] += src[i];
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    // ---------------------------------------------------------------- F64 (gradient checks)

    private static NormBackward forwardF64(Tensor x, Tensor residual, Tensor weight, Tensor bias, Tensor out,
            Stats st, boolean recording) {
        int d = st.d;
        double[] xa = x.doubles(), y = out.heapDoubles();
        double[] in = xa;
        if (residual != null) {
            double[] ra = residual.doubles();
            in = new double[xa.length];
            for (int i = 0; i < in.length; i++) in[i] = xa[i] + ra[i];
        }
        double[] w = weight == null ? null : weight.doubles(), b = bias == null ? null : bias.doubles();
        for (int r = 0; r < st.rows; r++) {
            int off = r * d;
            double mean = 0, var = 0;
            if (st.centered) {
                for (int i = off; i < off + d; i++) mean += in[i];
                mean /= d;
            }
            for (int i = off; i < off + d; i++) var += (in[i] - mean) * (in[i] - mean);
            double rstd = 1 / Math.sqrt(var / d + st.eps);
            st.mean[r] = mean;
            st.rstd[r] = rstd;
            for (int i = 0; i < d; i++) {
                y[off + i] = (in[off + i] - mean) * rstd * (w == null ? 1 : w[i]) + (b == null ? 0 : b[i]);
            }
        }
        double[] rows = in;
        int[] shape = out.shape();
        return (g, wantInput, wantWeight, wantBias) -> backwardF64(rows, g.doubles(), w, st, shape,
                wantInput, wantWeight, wantBias);
    }

    private static Tensor[] backwardF64(double[] in, double[] g, double[] w, Stats st, int[] shape, boolean wantInput,
            boolean wantWeight, boolean wantBias) {
        int d = st.d;
        double[] dx = wantInput ? new double[in.length] : null;
        double[] dw = wantWeight ? new double[d] : null, db = wantBias ? new double[d] : null;
        for (int r = 0; r < st.rows; r++) {
            int off = r * d;
            double mean = st.mean[r], rstd = st.rstd[r], sumG = 0, sumGx = 0;
            for (int i = 0; i < d; i++) {
                double xhat = (in[off + i] - mean) * rstd, gh = g[off + i] * (w == null ? 1 : w[i]);
                sumG += gh;
                sumGx += gh * xhat;
                if (dw != null) dw[i] += g[off + i] * xhat;
                if (db != null) db[i] += g[off + i];
            }
            if (dx == null) continue;
            double meanG = st.centered ? sumG / d : 0, meanGx = sumGx / d;
            for (int i = 0; i < d; i++) {
                double xhat = (in[off + i] - mean) * rstd;
                dx[off + i] = (g[off + i] * (w == null ? 1 : w[i]) - meanG - xhat * meanGx) * rstd;
            }
        }
        return new Tensor[] {dx == null ? null : Tensor.of(dx, shape), dw == null ? null : Tensor.of(dw, d),
                db == null ? null : Tensor.of(db, d)};
    }
}
