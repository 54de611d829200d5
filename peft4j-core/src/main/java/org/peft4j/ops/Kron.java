package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Kronecker products, the weight constructions of LoKr ({@code W = w1 ⊗ w2}) and of Compacter's PHM
 * layers ({@code W = Σ_i A_i ⊗ B_i}).
 *
 * <p>Both are one kernel: for A [n, a, b] and B [n, p, q] the result [a·p, b·q] has
 * {@code out[r·p + k, c·q + l] = Σ_i A[i, r, c] · B[i, k, l]}; {@link #kron} is the case n = 1.
 */
public final class Kron {
    /** Multiply-adds one worker does at least. */
    private static final int GRAIN_FLOPS = 1 << 15;

    private Kron() {}

    /** torch.kron for 2-D tensors: [m, n] ⊗ [p, q] → [m·p, n·q], with backward to both. */
    public static Tensor kron(Tensor a, Tensor b) {
        if (a.dim() != 2 || b.dim() != 2) {
            throw new IllegalArgumentException("kron needs 2-D tensors, got shapes " + Arrays.toString(a.shape())
                    + " and " + Arrays.toString(b.shape()));
        }
        return product("kron", a, b, 1, a.size(0), a.size(1), b.size(0), b.size(1));
    }

    /** Σ_i A_i ⊗ B_i for A [n, a, b] and B [n, p, q] → [a·p, b·q], with backward to both. */
    public static Tensor kronSum(Tensor a, Tensor b) {
        if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0)) {
            throw new IllegalArgumentException("kronSum needs A [n, a, b] and B [n, p, q] with the same n, got shapes "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        return product("kronSum", a, b, a.size(0), a.size(1), a.size(2), b.size(1), b.size(2));
    }

    private static Tensor product(String op, Tensor at, Tensor bt, int n, int ra, int ca, int rb, int cb) {
        DType type = Shapes.resultType(at, bt);
        Object av = Shapes.values(at, type), bv = Shapes.values(bt, type);
        Dims dims = new Dims(n, ra, ca, rb, cb);
        Object out = Shapes.newArray(type, Math.multiplyExact(ra * rb, ca * cb));
        int rowFlops = Math.max(1, n * ca * cb);
        Parallel.forRange(ra * rb, Math.max(1, GRAIN_FLOPS / rowFlops), (start, end) -> {
            if (out instanceof float[] o) forward((float[]) av, (float[]) bv, o, dims, start, end);
            else forward((double[]) av, (double[]) bv, (double[]) out, dims, start, end);
        });
        int[] aShape = at.shape(), bShape = bt.shape();
        return Autograd.record(Shapes.wrap(out, ra * rb, ca * cb), op, g -> {
            Object gv = Shapes.values(g, type);
            Tensor ga = null, gb = null;
            if (at.requiresGrad()) {
                Object s = Shapes.newArray(type, n * ra * ca);
                if (s instanceof float[] f) gradA((float[]) gv, (float[]) bv, f, dims);
                else gradA((double[]) gv, (double[]) bv, (double[]) s, dims);
                ga = Shapes.wrap(s, aShape);
            }
            if (bt.requiresGrad()) {
                Object s = Shapes.newArray(type, n * rb * cb);
                if (s instanceof float[] f) gradB((float[]) gv, (float[]) av, f, dims);
                else gradB((double[]) gv, (double[]) av, (double[]) s, dims);
                gb = Shapes.wrap(s, bShape);
            }
            return new Tensor[] {ga, gb};
        }, at, bt);
    }

    /** n terms, A_i of [ra, ca], B_i of [rb, cb]; the output row length is ca·cb. */
    private record Dims(int n, int ra, int ca, int rb, int cb) {
        int width() { return ca * cb; }
    }

    /** Output rows [start, end), row r·rb + k: the outer product A_i[r, :] ⊗ B_i[k, :] summed over i. */
    private static void forward(float[] a, float[] b, float[] out, Dims d, int start, int end) {
        int w = d.width(), cb = d.cb;
        for (int row = start; row < end; row++) {
            int r = row / d.rb, k = row % d.rb, o = row * w;
            for (int i = 0; i < d.n; i++) {
                int aRow = (i * d.ra + r) * d.ca, bRow = (i * d.rb + k) * cb;
                for (int c = 0; c < d.ca; c++) {
                    float s = a[aRow + c];
                    int oc = o + c * cb;
                    for (int l = 0; l < cb; l++) out[oc + l] += s * b[bRow + l];
                }
            }
        }
    }

    private static void forward(double[] a, double[] b, double[] out, Dims d, int start, int end) {
        int w = d.width(), cb = d.cb;
        for (int row = start; row < end; row++) {
            int r = row / d.rb, k = row % d.rb, o = row * w;
            for (int i = 0; i < d.n; i++) {
                int aRow = (i * d.ra + r) * d.ca, bRow = (i * d.rb + k) * cb;
                for (int c = 0; c < d.ca; c++) {
                    double s = a[aRow + c];
                    int oc = o + c * cb;
                    for (int l = 0; l < cb; l++) out[oc + l] += s * b[bRow + l];
                }
            }
        }
    }

    /** gA[i, r, c] = Σ_{k,l} g[r·rb + k, c·cb + l] · B[i, k, l]. */
    private static void gradA(float[] g, float[] b, float[] ga, Dims d) {
        int w = d.width(), cb = d.cb;
        for (int i = 0; i < d.n; i++) {
            for (int r = 0; r < d.ra; r++) {
                for (int c = 0; c < d.ca; c++) {
                    float sum = 0;
                    for (int k = 0; k < d.rb; k++) {
                        int gRow = (r * d.rb + k) * w + c * cb, bRow = (i * d.rb + k) * cb;
                        for (int l = 0; l < cb; l++) sum += g[gRow + l] * b[bRow + l];
                    }
                    ga[(i * d.ra + r) * d.ca + c] = sum;
                }
            }
        }
    }

    private static void gradA(double[] g, double[] b, double[] ga, Dims d) {
        int w = d.width(), cb = d.cb;
        for (int i = 0; i < d.n; i++) {
            for (int r = 0; r < d.ra; r++) {
                for (int c = 0; c < d.ca; c++) {
                    double sum = 0;
                    for (int k = 0; k < d.rb; k++) {
                        int gRow = (r * d.rb + k) * w + c * cb, bRow = (i * d.rb + k) * cb;
                        for (int l = 0; l < cb; l++) sum += g[gRow + l] * b[bRow + l];
                    }
                    ga[(i * d.ra + r) * d.ca + c] = sum;
                }
            }
        }
    }

    /** gB[i, k, l] = Σ_{r,c} A[i, r, c] · g[r·rb + k, c·cb + l]. */
    private static void gradB(float[] g, float[] a, float[] gb, Dims d) {
        int w = d.width(), cb = d.cb;
        for (int i = 0; i < d.n; i++) {
            for (int k = 0; k < d.rb; k++) {
                int bRow = (i * d.rb + k) * cb;
                for (int r = 0; r < d.ra; r++) {
                    for (int c = 0; c < d.ca; c++) {
                        float s = a[(i * d.ra + r) * d.ca + c];
                        int gRow = (r * d.rb + k) * w + c * cb;
                        for (int l = 0; l < cb; l++) gb[bRow + l] += s * g[gRow + l];
                    }
                }
            }
        }
    }

    private static void gradB(double[] g, double[] a, double[] gb, Dims d) {
        int w = d.width(), cb = d.cb;
        for (int i = 0; i < d.n; i++) {
            for (int k = 0; k < d.rb; k++) {
                int bRow = (i * d.rb + k) * cb;
                for (int r = 0; r < d.ra; r++) {
                    for (int c = 0; c < d.ca; c++) {
                        double s = a[(i * d.ra + r) * d.ca + c];
                        int gRow = (r * d.rb + k) * w + c * cb;
                        for (int l = 0; l < cb; l++) gb[bRow + l] += s * g[gRow + l];
                    }
                }
            }
        }
    }
}
