package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Binary elementwise arithmetic with NumPy broadcasting, and the reductions broadcasting's backward needs. */
public final class Elementwise {
    private Elementwise() {}

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

    public static Tensor add(Tensor a, Tensor b) {
        int[] shape = broadcastShape(a.shape(), b.shape());
        Tensor out = Tensor.zeros(resultType(a, b), shape);
        float[] fa = a.heapFloats(), fb = b.heapFloats(), fo = out.heapFloats();
        if (fa != null && fb != null && fo != null && fa.length == fo.length && fb.length == fo.length) {
            for (int i = 0; i < fo.length; i++) fo[i] = fa[i] + fb[i];
        } else {
            Tensor ea = a.detach().expand(shape), eb = b.detach().expand(shape);
            for (long i = 0, n = out.numel(); i < n; i++) out.setStorage(i, ea.getFlat(i) + eb.getFlat(i));
        }
        int[] sa = a.shape(), sb = b.shape();
        return Autograd.record(out, "add", g -> new Tensor[] {
                a.requiresGrad() ? sumToShape(g, sa) : null,
                b.requiresGrad() ? sumToShape(g, sb) : null}, a, b);
    }

    /** dst += src (src broadcast to dst's shape); records nothing. */
    public static void addInPlace(Tensor dst, Tensor src) {
        float[] fd = dst.heapFloats(), fs = src.heapFloats();
        if (fd != null && fs != null && fd.length == fs.length) {
            for (int i = 0; i < fd.length; i++) fd[i] += fs[i];
            return;
        }
        Tensor s = Arrays.equals(src.shape(), dst.shape()) ? src : src.detach().expand(dst.shape());
        for (long i = 0, n = dst.numel(); i < n; i++) {
            long k = dst.storageIndex(i);
            dst.setStorage(k, dst.getStorage(k) + s.getFlat(i));
        }
    }

    /** Sums g over the dimensions that broadcasting expanded from {@code shape}; records nothing. */
    public static Tensor sumToShape(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g;
        Tensor out = Tensor.zeros(g.computeType(), shape);
        int lead = gs.length - shape.length;
        long[] outStrides = Tensor.contiguousStrides(shape);
        long n = g.numel();
        int[] idx = new int[gs.length];
        for (long i = 0; i < n; i++) {
            long o = 0;
            for (int d = lead; d < gs.length; d++) {
                if (shape[d - lead] != 1) o += idx[d] * outStrides[d - lead];
            }
            out.setStorage(o, out.getStorage(o) + g.getFlat(i));
            for (int d = gs.length - 1; d >= 0; d--) {
                if (++idx[d] < gs[d]) break;
                idx[d] = 0;
            }
        }
        return out;
    }
}
