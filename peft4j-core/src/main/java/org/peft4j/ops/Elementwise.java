package org.peft4j.ops;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Elementwise arithmetic with NumPy broadcasting, scalar maps, in-place updates for optimisers and
 * gradient accumulation, and {@link #sumToShape}, the reduction broadcasting's backward needs.
 *
 * <p>Broadcast operands are never materialised: both inputs are walked through a plan that merges
 * adjacent dimensions laid out alike, so the common layouts collapse to one flat loop (same shape,
 * scalar operand) or rows of the innermost dimension against a row vector ({@code [..., n] op [n]})
 * or a per-row scalar ({@code [..., n] op [..., 1]}). F32 inner loops use the Vector API; F64 (for
 * gradient checks) runs plain scalar loops over the same plan.
 */
public final class Elementwise {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Elements per parallel task: below this, handing work to another core costs more than it saves. */
    static final int GRAIN = 1 << 15;
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Binary kernels; RIGHT yields the second operand, which materialises a broadcast. */
    private enum Binary { ADD, SUB, MUL, DIV, RIGHT }

    /** Scalar maps of one tensor; the double argument is the scalar of SCALE and ADD_SCALAR. */
    private enum Unary { NEG, SCALE, ADD_SCALAR, SQUARE, SQRT, EXP, LOG }

    private Elementwise() {}

    // ---------------------------------------------------------------- shapes and types

    /** The broadcast shape of a and b, or an error naming both shapes. */
    public static int[] broadcastShape(int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int da = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
            int db = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** The compute dtype of a result from a and b: F64 if either is F64, else F32. */
    public static DType resultType(Tensor a, Tensor b) {
        return a.dtype() == DType.F64 || b.dtype() == DType.F64 ? DType.F64 : DType.F32;
    }

    // ---------------------------------------------------------------- binary ops (recorded)

    /** a + b with broadcasting. */
    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = binary(Binary.ADD, a, b);
        int[] sa = a.shape(), sb = b.shape();
        boolean ga = a.requiresGrad(), gb = b.requiresGrad(); // flags, not the tensors: backward needs no values
        return Autograd.record(out, "add", g -> new Tensor[] {ga ? sumToShape(g, sa) : null, gb ? sumToShape(g, sb) : null}, a, b);
    }

    /** a - b with broadcasting. */
    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = binary(Binary.SUB, a, b);
        int[] sa = a.shape(), sb = b.shape();
        boolean ga = a.requiresGrad(), gb = b.requiresGrad();
        return Autograd.record(out, "sub", g -> new Tensor[] {ga ? sumToShape(g, sa) : null,
                gb ? map(Unary.NEG, sumToShape(g, sb), 0) : null}, a, b);
    }

    /** a * b (elementwise) with broadcasting. */
    public static Tensor mul(Tensor a, Tensor b) {
        Tensor out = binary(Binary.MUL, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record(out, "mul", g -> new Tensor[] {
                a.requiresGrad() ? sumToShape(binary(Binary.MUL, g, b), sa) : null,
                b.requiresGrad() ? sumToShape(binary(Binary.MUL, g, a), sb) : null}, a, b);
    }

    /** a / b (elementwise) with broadcasting. */
    public static Tensor div(Tensor a, Tensor b) {
        Tensor out = binary(Binary.DIV, a, b);
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record(out, "div", g -> {
            Tensor gOverB = binary(Binary.DIV, g, b);
            Tensor gb = null;
            if (b.requiresGrad()) {
                // d(a/b)/db = -(a/b)/b, so the gradient is -(g/b)*out summed to b's shape.
                gb = sumToShape(binary(Binary.MUL, gOverB, out), sb);
                scaleInPlace(gb, -1);
            }
            return new Tensor[] {a.requiresGrad() ? sumToShape(gOverB, sa) : null, gb};
        }, a, b);
    }

    /**
     * A fresh contiguous copy of x broadcast to {@code shape} (like {@code x.expand(shape).contiguous()}
     * without the per-element index arithmetic); its gradient is summed back to x's shape.
     */
    public static Tensor broadcastTo(Tensor x, int... shape) {
        int[] xs = x.shape();
        if (!Arrays.equals(broadcastShape(xs, shape), shape)) {
            throw new IllegalArgumentException("cannot broadcast " + Arrays.toString(xs) + " to " + Arrays.toString(shape));
        }
        Tensor out = compute(Binary.RIGHT, x, x, x.computeType(), shape, null);
        return Autograd.record(out, "broadcastTo", g -> new Tensor[] {sumToShape(g, xs)}, x);
    }

    // ---------------------------------------------------------------- scalar maps (recorded)

    /** -x. */
    public static Tensor neg(Tensor x) {
        return Autograd.record(map(Unary.NEG, x, 0), "neg", g -> new Tensor[] {map(Unary.NEG, g, 0)}, x);
    }

    /** x * s. */
    public static Tensor scale(Tensor x, double s) {
        return Autograd.record(map(Unary.SCALE, x, s), "scale", g -> new Tensor[] {map(Unary.SCALE, g, s)}, x);
    }

    /** x + s. */
    public static Tensor addScalar(Tensor x, double s) {
        return Autograd.record(map(Unary.ADD_SCALAR, x, s), "addScalar", g -> new Tensor[] {g}, x);
    }

    /** x². */
    public static Tensor square(Tensor x) {
        return Autograd.record(map(Unary.SQUARE, x, 0), "square", g -> {
            Tensor gx = binary(Binary.MUL, g, x);
            scaleInPlace(gx, 2);
            return new Tensor[] {gx};
        }, x);
    }

    /** √x (NaN below zero; the gradient is infinite at zero). */
    public static Tensor sqrt(Tensor x) {
        Tensor out = map(Unary.SQRT, x, 0);
        return Autograd.record(out, "sqrt", g -> {
            Tensor gx = binary(Binary.DIV, g, out);
            scaleInPlace(gx, 0.5);
            return new Tensor[] {gx};
        }, x);
    }

    /** eˣ. */
    public static Tensor exp(Tensor x) {
        Tensor out = map(Unary.EXP, x, 0);
        return Autograd.record(out, "exp", g -> new Tensor[] {binary(Binary.MUL, g, out)}, x);
    }

    /** Natural logarithm. */
    public static Tensor log(Tensor x) {
        return Autograd.record(map(Unary.LOG, x, 0), "log", g -> new Tensor[] {binary(Binary.DIV, g, x)}, x);
    }

    // ---------------------------------------------------------------- in-place updates (never recorded)

    /** dst += src (src broadcast to dst's shape); records nothing. */
    public static void addInPlace(Tensor dst, Tensor src) {
        int[] ds = dst.shape();
        if (!Arrays.equals(broadcastShape(ds, src.shape()), ds)) {
            throw new IllegalArgumentException("cannot add " + Arrays.toString(src.shape()) + " into "
                    + Arrays.toString(ds));
        }
        if (dst.heapFloats() != null || dst.heapDoubles() != null) {
            compute(Binary.ADD, dst, src, dst.dtype(), ds, dst);
            return;
        }
        Tensor s = Arrays.equals(src.shape(), ds) ? src : src.detach().expand(ds);
        for (long i = 0, n = dst.numel(); i < n; i++) {
            long k = dst.storageIndex(i);
            dst.setStorage(k, dst.getStorage(k) + s.getFlat(i));
        }
    }

    /** dst *= s; records nothing. */
    public static void scaleInPlace(Tensor dst, double s) {
        float[] fd = dst.heapFloats();
        if (fd != null) {
            float fs = (float) s;
            Parallel.forRange(fd.length, GRAIN, (from, to) -> mapF32(Unary.SCALE, fd, fd, from, to, fs));
            return;
        }
        double[] dd = dst.heapDoubles();
        if (dd != null) {
            for (int i = 0; i < dd.length; i++) dd[i] *= s;
            return;
        }
        for (long i = 0, n = dst.numel(); i < n; i++) {
            long k = dst.storageIndex(i);
            dst.setStorage(k, dst.getStorage(k) * s);
        }
    }

    /** dst += alpha * src for tensors of the same shape (the optimiser's update); records nothing. */
    public static void axpyInPlace(Tensor dst, double alpha, Tensor src) {
        if (!Arrays.equals(dst.shape(), src.shape())) {
            throw new IllegalArgumentException("axpyInPlace: dst " + Arrays.toString(dst.shape()) + " and src "
                    + Arrays.toString(src.shape()) + " differ in shape");
        }
        float[] fd = dst.heapFloats();
        if (fd != null) {
            float[] fs = floatsOf(src);
            float fa = (float) alpha;
            Parallel.forRange(fd.length, GRAIN, (from, to) -> {
                FloatVector va = FloatVector.broadcast(F, fa);
                int i = from;
                for (int up = from + F.loopBound(to - from); i < up; i += L) {
                    FloatVector.fromArray(F, fs, i).fma(va, FloatVector.fromArray(F, fd, i)).intoArray(fd, i);
                }
                for (; i < to; i++) fd[i] = Math.fma(fs[i], fa, fd[i]);
            });
            return;
        }
        double[] dd = dst.heapDoubles();
        if (dd != null) {
            double[] ds = doublesOf(src);
            for (int i = 0; i < dd.length; i++) dd[i] += alpha * ds[i];
            return;
        }
        for (long i = 0, n = dst.numel(); i < n; i++) {
            long k = dst.storageIndex(i);
            dst.setStorage(k, dst.getStorage(k) + alpha * src.getFlat(i));
        }
    }

    // ---------------------------------------------------------------- broadcasting's backward

    /**
     * Sums g over the dimensions that broadcasting expanded from {@code shape} (leading dimensions g
     * has in addition, and dimensions of size 1 in {@code shape}); records nothing. Returns g itself
     * when the shapes already agree.
     */
    public static Tensor sumToShape(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g;
        if (!Arrays.equals(broadcastShape(shape, gs), gs)) {
            throw new IllegalArgumentException("cannot sum gradient of shape " + Arrays.toString(gs) + " to "
                    + Arrays.toString(shape));
        }
        int lead = gs.length - shape.length;
        boolean[] reduce = new boolean[gs.length];
        for (int d = 0; d < gs.length; d++) reduce[d] = d < lead || shape[d - lead] == 1;
        return Reductions.sumDims(g, reduce, shape);
    }

    // ---------------------------------------------------------------- array access shared by the ops

    /** The values of t as a row-major float[]: its own backing array when possible, else a fresh copy. */
    static float[] floatsOf(Tensor t) {
        float[] f = t.heapFloats();
        if (f != null) return f;
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        if (t.dtype() == DType.F32 && t.isContiguous()) {
            MemorySegment.copy(t.segment(), F32_LE, t.offset() * Float.BYTES, out, 0, n);
        } else {
            Walk w = new Walk(t);
            for (int i = 0; i < n; i++) out[i] = (float) t.getStorage(w.next());
        }
        return out;
    }

    /** As {@link #floatsOf} for double values. */
    static double[] doublesOf(Tensor t) {
        double[] d = t.heapDoubles();
        if (d != null) return d;
        int n = Math.toIntExact(t.numel());
        double[] out = new double[n];
        Walk w = new Walk(t);
        for (int i = 0; i < n; i++) out[i] = t.getStorage(w.next());
        return out;
    }

    /** Storage indices of a tensor's elements in row-major order, advanced by counters instead of division. */
    private static final class Walk {
        private final int[] shape;
        private final long[] strides;
        private final int[] idx;
        private long pos;
        private boolean started;

        Walk(Tensor t) {
            shape = t.shape();
            strides = t.strides();
            idx = new int[shape.length];
            pos = t.offset();
        }

        long next() {
            if (!started) {
                started = true;
                return pos;
            }
            for (int d = shape.length - 1; d >= 0; d--) {
                pos += strides[d];
                if (++idx[d] < shape[d]) return pos;
                pos -= strides[d] * shape[d];
                idx[d] = 0;
            }
            return pos;
        }
    }

    // ---------------------------------------------------------------- binary engine

    private static Tensor binary(Binary op, Tensor a, Tensor b) {
        return compute(op, a, b, resultType(a, b), broadcastShape(a.shape(), b.shape()), null);
    }

    /** Runs op over a and b broadcast to {@code shape}, into {@code into} (in place) or a fresh tensor. */
    private static Tensor compute(Binary op, Tensor a, Tensor b, DType type, int[] shape, Tensor into) {
        Plan plan = new Plan(shape, a.shape(), b.shape());
        if (type == DType.F32) {
            float[] o = into != null ? into.heapFloats() : Workspace.floats(Math.toIntExact(Tensor.numel(shape)));
            runF32(op, floatsOf(a), floatsOf(b), o, plan);
            return into != null ? into : Tensor.of(o, shape);
        }
        double[] o = into != null ? into.heapDoubles() : new double[Math.toIntExact(Tensor.numel(shape))];
        runF64(op, doublesOf(a), doublesOf(b), o, plan);
        return into != null ? into : Tensor.of(o, shape);
    }

    /**
     * How two compact row-major operands map onto a broadcast result: the result's dimensions with
     * size-1 ones dropped and neighbours merged where both operands step through them alike, and each
     * operand's element stride per merged dimension (0 where it is broadcast). The innermost merged
     * dimension is walked by the kernels; the others index rows.
     */
    private static final class Plan {
        final int[] dims;
        final int[] sa;
        final int[] sb;
        final int inner;
        final int ia;
        final int ib;
        final int rows;

        Plan(int[] out, int[] a, int[] b) {
            int n = out.length;
            int[] ca = broadcastStrides(a, out), cb = broadcastStrides(b, out);
            int[] d = new int[n], xa = new int[n], xb = new int[n];
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (out[i] == 1) continue;
                if (m > 0 && xa[m - 1] == ca[i] * out[i] && xb[m - 1] == cb[i] * out[i]) {
                    d[m - 1] *= out[i];
                    xa[m - 1] = ca[i];
                    xb[m - 1] = cb[i];
                } else {
                    d[m] = out[i];
                    xa[m] = ca[i];
                    xb[m] = cb[i];
                    m++;
                }
            }
            dims = Arrays.copyOf(d, m);
            sa = Arrays.copyOf(xa, m);
            sb = Arrays.copyOf(xb, m);
            inner = m == 0 ? 1 : dims[m - 1];
            ia = m == 0 ? 0 : sa[m - 1];
            ib = m == 0 ? 0 : sb[m - 1];
            rows = Math.toIntExact(Tensor.numel(out) / Math.max(1, inner));
        }

        /** Row-major strides of a compact operand of shape {@code in} seen through the result's shape. */
        private static int[] broadcastStrides(int[] in, int[] out) {
            int[] st = new int[out.length];
            int s = 1;
            for (int i = out.length - 1, k = in.length - 1; i >= 0; i--, k--) {
                int d = k >= 0 ? in[k] : 1;
                st[i] = d == 1 ? 0 : s;
                s *= d;
            }
            return st;
        }

        int offset(int row, int[] strides) {
            int off = 0;
            for (int d = dims.length - 2; d >= 0; d--) {
                off += (row % dims[d]) * strides[d];
                row /= dims[d];
            }
            return off;
        }
    }

    private static void runF32(Binary op, float[] a, float[] b, float[] o, Plan p) {
        if (o.length == 0) return;
        if (p.rows == 1) {
            Parallel.forRange(p.inner, GRAIN, (s, e) -> rowF32(op, a, s * p.ia, p.ia, b, s * p.ib, p.ib, o, s, e - s));
        } else {
            Parallel.forRange(p.rows, Math.max(1, GRAIN / p.inner), (s, e) -> {
                for (int r = s; r < e; r++) {
                    rowF32(op, a, p.offset(r, p.sa), p.ia, b, p.offset(r, p.sb), p.ib, o, r * p.inner, p.inner);
                }
            });
        }
    }

    private static void rowF32(Binary op, float[] a, int ai, int ia, float[] b, int bi, int ib, float[] o, int oi, int n) {
        if (ia == 1 && ib == 1) vectorVector(op, a, ai, b, bi, o, oi, n);
        else if (ia == 1) vectorScalar(op, a, ai, b[bi], o, oi, n);
        else if (ib == 1) scalarVector(op, a[ai], b, bi, o, oi, n);
        else Arrays.fill(o, oi, oi + n, (float) apply(op, a[ai], b[bi]));
    }

    private static FloatVector load(float[] a, int i) {
        return FloatVector.fromArray(F, a, i);
    }

    private static void vectorVector(Binary op, float[] a, int ai, float[] b, int bi, float[] o, int oi, int n) {
        int i = 0, up = F.loopBound(n);
        switch (op) {
            case ADD -> {
                for (; i < up; i += L) load(a, ai + i).add(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] + b[bi + i];
            }
            case SUB -> {
                for (; i < up; i += L) load(a, ai + i).sub(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] - b[bi + i];
            }
            case MUL -> {
                for (; i < up; i += L) load(a, ai + i).mul(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] * b[bi + i];
            }
            case DIV -> {
                for (; i < up; i += L) load(a, ai + i).div(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] / b[bi + i];
            }
            case RIGHT -> System.arraycopy(b, bi, o, oi, n);
        }
    }

    private static void vectorScalar(Binary op, float[] a, int ai, float s, float[] o, int oi, int n) {
        int i = 0, up = F.loopBound(n);
        FloatVector vs = FloatVector.broadcast(F, s);
        switch (op) {
            case ADD -> {
                for (; i < up; i += L) load(a, ai + i).add(vs).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] + s;
            }
            case SUB -> {
                for (; i < up; i += L) load(a, ai + i).sub(vs).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] - s;
            }
            case MUL -> {
                for (; i < up; i += L) load(a, ai + i).mul(vs).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] * s;
            }
            case DIV -> {
                for (; i < up; i += L) load(a, ai + i).div(vs).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = a[ai + i] / s;
            }
            case RIGHT -> Arrays.fill(o, oi, oi + n, s);
        }
    }

    private static void scalarVector(Binary op, float s, float[] b, int bi, float[] o, int oi, int n) {
        int i = 0, up = F.loopBound(n);
        FloatVector vs = FloatVector.broadcast(F, s);
        switch (op) {
            case ADD -> {
                for (; i < up; i += L) vs.add(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = s + b[bi + i];
            }
            case SUB -> {
                for (; i < up; i += L) vs.sub(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = s - b[bi + i];
            }
            case MUL -> {
                for (; i < up; i += L) vs.mul(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = s * b[bi + i];
            }
            case DIV -> {
                for (; i < up; i += L) vs.div(load(b, bi + i)).intoArray(o, oi + i);
                for (; i < n; i++) o[oi + i] = s / b[bi + i];
            }
            case RIGHT -> System.arraycopy(b, bi, o, oi, n);
        }
    }

    private static void runF64(Binary op, double[] a, double[] b, double[] o, Plan p) {
        if (o.length == 0) return;
        for (int r = 0; r < p.rows; r++) {
            int ai = p.offset(r, p.sa), bi = p.offset(r, p.sb), oi = r * p.inner;
            for (int j = 0; j < p.inner; j++) o[oi + j] = apply(op, a[ai + j * p.ia], b[bi + j * p.ib]);
        }
    }

    private static double apply(Binary op, double x, double y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case RIGHT -> y;
        };
    }

    // ---------------------------------------------------------------- scalar-map engine

    private static Tensor map(Unary op, Tensor x, double s) {
        int[] shape = x.shape();
        if (x.computeType() == DType.F32) {
            float[] xs = floatsOf(x);
            float[] o = Workspace.floats(xs.length);
            float fs = (float) s;
            Parallel.forRange(o.length, GRAIN, (from, to) -> mapF32(op, xs, o, from, to, fs));
            return Tensor.of(o, shape);
        }
        double[] xs = doublesOf(x);
        double[] o = new double[xs.length];
        for (int i = 0; i < o.length; i++) {
            double v = xs[i];
            o[i] = switch (op) {
                case NEG -> -v;
                case SCALE -> v * s;
                case ADD_SCALAR -> v + s;
                case SQUARE -> v * v;
                case SQRT -> Math.sqrt(v);
                case EXP -> Math.exp(v);
                case LOG -> Math.log(v);
            };
        }
        return Tensor.of(o, shape);
    }

    private static void mapF32(Unary op, float[] x, float[] o, int from, int to, float s) {
        int i = from, up = from + F.loopBound(to - from);
        switch (op) {
            case NEG -> {
                for (; i < up; i += L) load(x, i).neg().intoArray(o, i);
                for (; i < to; i++) o[i] = -x[i];
            }
            case SCALE -> {
                for (; i < up; i += L) load(x, i).mul(s).intoArray(o, i);
                for (; i < to; i++) o[i] = x[i] * s;
            }
            case ADD_SCALAR -> {
                for (; i < up; i += L) load(x, i).add(s).intoArray(o, i);
                for (; i < to; i++) o[i] = x[i] + s;
            }
            case SQUARE -> {
                for (; i < up; i += L) {
                    FloatVector v = load(x, i);
                    v.mul(v).intoArray(o, i);
                }
                for (; i < to; i++) o[i] = x[i] * x[i];
            }
            case SQRT -> {
                for (; i < up; i += L) load(x, i).sqrt().intoArray(o, i);
                for (; i < to; i++) o[i] = (float) Math.sqrt(x[i]);
            }
            case EXP -> {
                for (; i < up; i += L) load(x, i).lanewise(VectorOperators.EXP).intoArray(o, i);
                for (; i < to; i++) o[i] = (float) Math.exp(x[i]);
            }
            case LOG -> {
                for (; i < up; i += L) load(x, i).lanewise(VectorOperators.LOG).intoArray(o, i);
                for (; i < to; i++) o[i] = (float) Math.log(x[i]);
            }
        }
    }
}
