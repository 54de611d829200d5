package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.BinaryOperator;
import java.util.function.DoubleBinaryOperator;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class ElementwiseTest {
    /** Shape pairs covering same shape, row and column broadcast both ways, outer products and scalars. */
    static final int[][][] PAIRS = {
        {{3, 5}, {3, 5}},
        {{2, 1, 7}, {7}},
        {{7}, {2, 1, 7}},
        {{4, 1}, {1, 5}},
        {{1}, {17}},
        {{17}, {1}},
        {{3, 5}, {}},
        {{2, 3, 4}, {3, 1}},
        {{2, 1, 4}, {1, 3, 1}},
    };

    static Tensor f32(Tensor t) { return t.detachedCopy(DType.F32); }

    static Tensor f64(Tensor t) { return t.detachedCopy(DType.F64); }

    /** A float32 tensor of normal values (scaled and shifted). */
    static Tensor randnF32(long seed, double scale, double shift, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) (shift + scale * r.nextGaussian());
        return Tensor.of(v, shape);
    }

    /** The op evaluated element by element through expanded views, as a reference. */
    static double[] naive(Tensor a, Tensor b, DoubleBinaryOperator op) {
        int[] shape = Elementwise.broadcastShape(a.shape(), b.shape());
        Tensor ea = a.detach().expand(shape), eb = b.detach().expand(shape);
        double[] out = new double[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < out.length; i++) out[i] = op.applyAsDouble(ea.getFlat(i), eb.getFlat(i));
        return out;
    }

    @Test
    void binaryGradientsOnBroadcastShapes() {
        for (int[][] p : PAIRS) {
            String s = java.util.Arrays.deepToString(p);
            GradCheck.check("add " + s, in -> Elementwise.add(in[0], in[1]), GradCheck.randn(1, p[0]), GradCheck.randn(2, p[1]));
            GradCheck.check("sub " + s, in -> Elementwise.sub(in[0], in[1]), GradCheck.randn(3, p[0]), GradCheck.randn(4, p[1]));
            GradCheck.check("mul " + s, in -> Elementwise.mul(in[0], in[1]), GradCheck.randn(5, p[0]), GradCheck.randn(6, p[1]));
            GradCheck.check("div " + s, in -> Elementwise.div(in[0], in[1]),
                    GradCheck.randn(7, p[0]), GradCheck.uniform(8, 0.5, 2, p[1]));
        }
    }

    @Test
    void onlyInputsThatRequireGradGetOne() {
        Tensor a = GradCheck.randn(1, 3, 4);
        Tensor b = GradCheck.randn(2, 4).detach();
        GradCheck.check("mul frozen b", in -> Elementwise.mul(in[0], in[1]), a, b);
        GradCheck.check("div frozen a", in -> Elementwise.div(in[0], in[1]), GradCheck.randn(3, 4).detach(),
                GradCheck.uniform(4, 1, 2, 3, 4));
        Tensor w = GradCheck.randn(9, 3, 4).detach();
        a.zeroGrad();
        Autograd.backward(Elementwise.sub(a, b), w);
        assertNull(b.grad());
        assertArrayEquals(w.toDoubleArray(), a.grad().toDoubleArray());
    }

    @Test
    void binaryValuesMatchReference() {
        for (int[][] p : PAIRS) {
            Tensor a = GradCheck.randn(11, p[0]).detach(), b = GradCheck.uniform(12, 0.5, 2, p[1]).detach();
            assertArrayEquals(naive(a, b, Double::sum), Elementwise.add(a, b).toDoubleArray(), 1e-15);
            assertArrayEquals(naive(a, b, (x, y) -> x - y), Elementwise.sub(a, b).toDoubleArray(), 1e-15);
            assertArrayEquals(naive(a, b, (x, y) -> x * y), Elementwise.mul(a, b).toDoubleArray(), 1e-15);
            assertArrayEquals(naive(a, b, (x, y) -> x / y), Elementwise.div(a, b).toDoubleArray(), 1e-15);
            Tensor fa = f32(a), fb = f32(b);
            Tensor sum = Elementwise.add(fa, fb);
            assertEquals(DType.F32, sum.dtype());
            assertArrayEquals(naive(fa, fb, (x, y) -> (float) x + (float) y), sum.toDoubleArray(), 0);
        }
    }

    @Test
    void float32MatchesFloat64OnVectorSizedShapes() {
        int[][][] pairs = {{{37, 129}, {37, 129}}, {{37, 129}, {129}}, {{129}, {37, 129}}, {{37, 129}, {37, 1}},
            {{37, 1}, {1, 129}}, {{37, 129}, {1}}, {{1}, {37, 129}}, {{3, 37, 129}, {37, 1}}};
        java.util.List<BinaryOperator<Tensor>> ops = java.util.List.of(
                Elementwise::add, Elementwise::sub, Elementwise::mul, Elementwise::div);
        for (int[][] p : pairs) {
            Tensor a = randnF32(21, 1, 0, p[0]), b = randnF32(22, 0.3, 1.5, p[1]);
            for (BinaryOperator<Tensor> op : ops) {
                double err = GradCheck.relError(op.apply(a, b).toDoubleArray(), op.apply(f64(a), f64(b)).toDoubleArray());
                assertTrue(err < 1e-6, java.util.Arrays.deepToString(p) + " rel error " + err);
            }
        }
    }

    @Test
    void nonContiguousAndOffsetInputs() {
        Tensor base = randnF32(31, 1, 0, 129, 37);
        Tensor t = base.transpose(0, 1);
        Tensor row = randnF32(32, 1, 0, 3, 129).narrow(0, 1, 1);
        Tensor out = Elementwise.add(t, row);
        assertArrayEquals(naive(t, row, (x, y) -> (float) x + (float) y), out.toDoubleArray(), 0);
        Tensor wide = randnF32(33, 1, 0, 4, 10).narrow(1, 2, 5);
        assertArrayEquals(naive(wide, wide, (x, y) -> (float) x * (float) y), Elementwise.mul(wide, wide).toDoubleArray(), 0);
    }

    @Test
    void unaryGradients() {
        for (int[] shape : new int[][] {{1}, {3, 5}, {17}}) {
            GradCheck.check("neg", in -> Elementwise.neg(in[0]), GradCheck.randn(1, shape));
            GradCheck.check("scale", in -> Elementwise.scale(in[0], -2.5), GradCheck.randn(2, shape));
            GradCheck.check("addScalar", in -> Elementwise.addScalar(in[0], 0.75), GradCheck.randn(3, shape));
            GradCheck.check("square", in -> Elementwise.square(in[0]), GradCheck.randn(4, shape));
            GradCheck.check("sqrt", in -> Elementwise.sqrt(in[0]), GradCheck.uniform(5, 0.5, 3, shape));
            GradCheck.check("exp", in -> Elementwise.exp(in[0]), GradCheck.randn(6, shape));
            GradCheck.check("log", in -> Elementwise.log(in[0]), GradCheck.uniform(7, 0.2, 3, shape));
        }
        GradCheck.check("broadcastTo", in -> Elementwise.broadcastTo(in[0], 2, 3, 4), GradCheck.randn(8, 3, 1));
    }

    @Test
    void unaryFloat32MatchesFloat64() {
        Tensor x = randnF32(41, 1, 0, 37, 129);
        Tensor pos = randnF32(42, 0.3, 2, 37, 129);
        java.util.Map<String, java.util.function.UnaryOperator<Tensor>> ops = java.util.Map.of(
                "neg", Elementwise::neg, "scale", t -> Elementwise.scale(t, 0.37), "addScalar", t -> Elementwise.addScalar(t, 1.25),
                "square", Elementwise::square, "exp", Elementwise::exp);
        ops.forEach((name, op) -> {
            double err = GradCheck.relError(op.apply(x).toDoubleArray(), op.apply(f64(x)).toDoubleArray());
            assertTrue(err < 1e-6, name + " rel error " + err);
        });
        assertTrue(GradCheck.relError(Elementwise.sqrt(pos).toDoubleArray(), Elementwise.sqrt(f64(pos)).toDoubleArray()) < 1e-6);
        assertTrue(GradCheck.relError(Elementwise.log(pos).toDoubleArray(), Elementwise.log(f64(pos)).toDoubleArray()) < 1e-6);
    }

    @Test
    void inPlaceUpdates() {
        Tensor dst = randnF32(51, 1, 0, 37, 129);
        Tensor src = randnF32(52, 1, 0, 129);
        double[] expected = naive(dst, src, (x, y) -> (float) x + (float) y);
        Elementwise.addInPlace(dst, src);
        assertArrayEquals(expected, dst.toDoubleArray(), 0);

        Tensor d64 = GradCheck.randn(53, 5, 3).detach();
        double[] before = d64.toDoubleArray();
        Elementwise.scaleInPlace(d64, -3);
        for (int i = 0; i < before.length; i++) assertEquals(-3 * before[i], d64.getFlat(i), 1e-15);

        Tensor a = randnF32(54, 1, 0, 1000), b = randnF32(55, 1, 0, 1000);
        double[] av = a.toDoubleArray(), bv = b.toDoubleArray();
        Elementwise.axpyInPlace(a, 0.1, b);
        for (int i = 0; i < av.length; i++) assertEquals(av[i] + 0.1 * bv[i], a.getFlat(i), 1e-6);

        // A strided view takes the generic path and leaves the rest of its storage alone.
        Tensor whole = Tensor.zeros(4, 6);
        Tensor view = whole.narrow(1, 1, 3);
        Elementwise.addInPlace(view, Tensor.of(new float[] {1, 2, 3}, 3));
        Elementwise.axpyInPlace(view, 2, Tensor.ones(4, 3));
        Elementwise.scaleInPlace(view, 0.5);
        assertArrayEquals(new float[] {0, 1.5f, 2, 2.5f, 0, 0}, whole.select(0, 2).toFloatArray());

        assertThrows(IllegalArgumentException.class, () -> Elementwise.addInPlace(Tensor.zeros(3), Tensor.zeros(2, 3)));
        assertThrows(IllegalArgumentException.class, () -> Elementwise.axpyInPlace(Tensor.zeros(3), 1, Tensor.zeros(1)));
    }

    @Test
    void sumToShapeReducesBroadcastDimensions() {
        Tensor g = randnF32(61, 1, 0, 5, 7, 129);
        int[][] targets = {{129}, {1, 129}, {7, 1}, {5, 1, 129}, {5, 7, 1}, {1, 1, 1}, {}};
        for (int[] target : targets) {
            Tensor s32 = Elementwise.sumToShape(g, target), s64 = Elementwise.sumToShape(f64(g), target);
            assertArrayEquals(target, s32.shape());
            double[] ref = new double[Math.toIntExact(Tensor.numel(target))];
            Tensor expandedIndex = Tensor.zeros(DType.F64, target);
            for (int i = 0; i < ref.length; i++) expandedIndex.setFlat(i, i);
            Tensor idx = expandedIndex.expand(5, 7, 129);
            for (int i = 0; i < g.numel(); i++) ref[(int) idx.getFlat(i)] += g.getFlat(i);
            assertArrayEquals(ref, s64.toDoubleArray(), 1e-12);
            assertTrue(GradCheck.relError(s32.toDoubleArray(), ref) < 1e-6);
        }
        assertSame(g, Elementwise.sumToShape(g, new int[] {5, 7, 129}));
        assertThrows(IllegalArgumentException.class, () -> Elementwise.sumToShape(g, new int[] {6, 129}));
    }

    @Test
    void biasGradientSumIsAccurate() {
        // 3000 rows of 0.1f: a plain float running sum would drift by ~5e-5 relative.
        float[] v = new float[3000 * 33];
        java.util.Arrays.fill(v, 0.1f);
        Tensor s = Elementwise.sumToShape(Tensor.of(v, 3000, 33), new int[] {33});
        for (int j = 0; j < 33; j++) assertEquals(3000 * (double) 0.1f, s.getFlat(j), 3000 * 0.1 * 3e-7);
    }

    @Test
    void shapeErrorsNameBothShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Elementwise.add(Tensor.zeros(3, 4), Tensor.zeros(5)));
        assertTrue(e.getMessage().contains("[3, 4]") && e.getMessage().contains("[5]"), e.getMessage());
    }
}
