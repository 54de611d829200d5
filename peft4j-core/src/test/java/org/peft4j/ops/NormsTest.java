package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class NormsTest {
    private static final double EPS = 1e-5;

    @Test
    void layerNormMatchesHandComputation() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4);
        double rstd = 1 / Math.sqrt(1.25 + EPS); // biased variance of 1..4 is 1.25
        Tensor y = Norms.layerNorm(x, Tensor.of(new double[] {1, 2, 1, 1}, 4), Tensor.of(new double[] {0, 0, 0, 10}, 4), EPS);
        assertArrayEquals(new double[] {-1.5 * rstd, -1.0 * rstd, 0.5 * rstd, 1.5 * rstd + 10}, y.toDoubleArray(), 1e-12);
        double rms = 1 / Math.sqrt(7.5 + EPS); // mean of squares of 1..4
        assertArrayEquals(new double[] {rms, 4 * rms, 3 * rms, 4 * rms},
                Norms.rmsNorm(x, Tensor.of(new double[] {1, 2, 1, 1}, 4), EPS).toDoubleArray(), 1e-12);
    }

    @Test
    void gradientsOnAwkwardShapes() {
        int[][] shapes = {{1, 1}, {3, 5}, {2, 3, 7}, {4, 17}};
        for (int[] shape : shapes) {
            int d = shape[shape.length - 1];
            long seed = 13L * shape.length + d;
            Tensor x = GradCheck.randn(seed, shape), r = GradCheck.randn(seed + 1, shape);
            Tensor w = GradCheck.uniform(seed + 2, 0.5, 1.5, d), b = GradCheck.randn(seed + 3, d);
            String s = java.util.Arrays.toString(shape);
            GradCheck.check("layerNorm " + s, in -> Norms.layerNorm(in[0], in[1], in[2], EPS), x, w, b);
            GradCheck.check("layerNorm no affine " + s, in -> Norms.layerNorm(in[0], null, null, EPS), x);
            GradCheck.check("layerNorm weight only " + s, in -> Norms.layerNorm(in[0], in[1], null, EPS), x, w);
            GradCheck.check("addLayerNorm " + s, in -> Norms.addLayerNorm(in[0], in[1], in[2], in[3], EPS), x, r, w, b);
            GradCheck.check("rmsNorm " + s, in -> Norms.rmsNorm(in[0], in[1], EPS), x, w);
            GradCheck.check("rmsNorm no weight " + s, in -> Norms.rmsNorm(in[0], null, EPS), x);
        }
    }

    @Test
    void addLayerNormEqualsLayerNormOfTheSum() {
        Tensor x = GradCheck.randn(1, 3, 9), r = GradCheck.randn(2, 3, 9);
        Tensor w = GradCheck.randn(3, 9), b = GradCheck.randn(4, 9);
        Tensor fused = Norms.addLayerNorm(x, r, w, b, EPS);
        Tensor plain = Norms.layerNorm(Elementwise.add(x.detach(), r.detach()), w.detach(), b.detach(), EPS);
        assertArrayEquals(plain.toDoubleArray(), fused.toDoubleArray(), 1e-12);
        // The same tensor as input and residual: both gradient contributions add up.
        Tensor y = GradCheck.randn(5, 3, 9);
        GradCheck.check("addLayerNorm(y, y)", in -> Norms.addLayerNorm(in[0], in[0], in[1], null, EPS), y, w);
    }

    @Test
    void frozenParametersGetNoGradient() {
        Tensor x = GradCheck.randn(1, 4, 6);
        Tensor w = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 6), b = GradCheck.randn(2, 6);
        GradCheck.check("layerNorm frozen weight", in -> Norms.layerNorm(in[0], in[1], in[2], EPS), x, w, b);
        assertNull(w.grad());
        Tensor frozenX = x.detach();
        b.zeroGrad();
        Autograd.backward(Norms.layerNorm(frozenX, w, b, EPS), Tensor.full(DType.F64, 1, 4, 6));
        assertNull(frozenX.grad());
        assertArrayEquals(new double[] {4, 4, 4, 4, 4, 4}, b.grad().toDoubleArray(), 0);
        assertNull(Norms.rmsNorm(frozenX, w, EPS).gradFn());
    }

    @Test
    void bf16WeightsAreReadAsStored() {
        Tensor x = GradCheck.randn(7, 5, 33).detach().to(DType.F32);
        Tensor w32 = GradCheck.uniform(8, 0.5, 1.5, 33).detach().to(DType.BF16).to(DType.F32);
        Tensor b32 = GradCheck.randn(9, 33).detach().to(DType.F16).to(DType.F32);
        Tensor wBf16 = w32.to(DType.BF16), bF16 = b32.to(DType.F16);
        assertArrayEquals(Norms.layerNorm(x, w32, b32, EPS).toFloatArray(),
                Norms.layerNorm(x, wBf16, bF16, EPS).toFloatArray(), 0f);
        assertArrayEquals(Norms.rmsNorm(x, w32, EPS).toFloatArray(), Norms.rmsNorm(x, wBf16, EPS).toFloatArray(), 0f);
    }

    @Test
    void f32MatchesF64() {
        int rows = 64, d = 389;
        Tensor x64 = GradCheck.randn(1, 2, rows, d), r64 = GradCheck.randn(2, 2, rows, d);
        Tensor w64 = GradCheck.uniform(3, 0.5, 1.5, d), b64 = GradCheck.randn(4, d);
        Tensor g = GradCheck.randn(5, 2, rows, d).detach();
        for (String op : new String[] {"layerNorm", "addLayerNorm", "rmsNorm"}) {
            Tensor[] p64 = {x64, r64, w64, b64};
            Tensor[] p32 = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                p64[i].zeroGrad();
                p32[i] = p64[i].detach().to(DType.F32).requiresGrad(true);
            }
            Tensor y64 = apply(op, p64), y32 = apply(op, p32);
            SoftmaxTest.assertClose(op, y64.toDoubleArray(), y32.toDoubleArray());
            Autograd.backward(y64, g);
            Autograd.backward(y32, g.to(DType.F32));
            for (int i = 0; i < 4; i++) {
                if (p64[i].grad() == null) continue;
                assertEquals(DType.F32, p32[i].grad().dtype());
                SoftmaxTest.assertClose(op + " grad " + i, p64[i].grad().toDoubleArray(), p32[i].grad().toDoubleArray());
            }
        }
    }

    private static Tensor apply(String op, Tensor[] p) {
        return switch (op) {
            case "layerNorm" -> Norms.layerNorm(p[0], p[2], p[3], EPS);
            case "addLayerNorm" -> Norms.addLayerNorm(p[0], p[1], p[2], p[3], EPS);
            default -> Norms.rmsNorm(p[0], p[2], 1e-6);
        };
    }

    @Test
    void mismatchedShapesAreRejected() {
        Tensor x = Tensor.zeros(2, 5);
        assertThrows(IllegalArgumentException.class, () -> Norms.layerNorm(x, Tensor.ones(4), null, EPS));
        assertThrows(IllegalArgumentException.class, () -> Norms.layerNorm(x, null, Tensor.ones(1, 5), EPS));
        assertThrows(IllegalArgumentException.class, () -> Norms.addLayerNorm(x, Tensor.zeros(1, 5), null, null, EPS));
        assertThrows(IllegalArgumentException.class, () -> Norms.rmsNorm(x, Tensor.ones(6), EPS));
    }
}
