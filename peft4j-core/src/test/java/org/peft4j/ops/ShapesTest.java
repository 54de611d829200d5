package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class ShapesTest {
    @Test
    void concatValues() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {5, 6}, 2, 1);
        assertArrayEquals(new float[] {1, 2, 5, 3, 4, 6}, Shapes.concat(-1, a, b).toFloatArray());
        assertArrayEquals(new int[] {2, 3}, Shapes.concat(1, List.of(a, b)).shape());
        Tensor c = Tensor.of(new float[] {7, 8}, 1, 2);
        assertArrayEquals(new float[] {1, 2, 3, 4, 7, 8}, Shapes.concat(0, a, c).toFloatArray());
        // non-contiguous parts: a transposed is [[1, 3], [2, 4]]
        assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, Shapes.concat(1, a.transpose(0, 1), b).toFloatArray());
    }

    @Test
    void concatSplitRoundTrip() {
        Tensor x = randomF32(3, 3, 11, 5);
        for (int axis : new int[] {0, 1, 2, -1, -2}) {
            int size = x.size(axis);
            Tensor[] pieces = Shapes.split(x, axis, 1, 0, size - 1);
            assertEquals(0, pieces[1].size(axis));
            assertArrayEquals(x.toFloatArray(), Shapes.concat(axis, pieces).toFloatArray());
            Tensor[] chunks = Shapes.chunk(x, axis, 2);
            assertArrayEquals(x.toFloatArray(), Shapes.concat(axis, chunks).toFloatArray());
        }
        Tensor t = x.transpose(0, 2);
        assertArrayEquals(t.toFloatArray(), Shapes.concat(1, Shapes.split(t, 1, 2, 9, 0)).toFloatArray());
    }

    @Test
    void chunkFollowsTorch() {
        Tensor x = Tensor.zeros(7, 2);
        assertArrayEquals(new int[] {3, 3, 1}, sizes(Shapes.chunk(x, 0, 3), 0));
        assertArrayEquals(new int[] {2, 2, 2}, sizes(Shapes.chunk(Tensor.zeros(6), 0, 4), 0));
        assertArrayEquals(new int[] {2}, sizes(Shapes.chunk(x, -1, 1), 1));
        assertArrayEquals(new int[] {1, 1}, sizes(Shapes.chunk(x, 1, 5), 1));
    }

    @Test
    void stackValues() {
        Tensor a = Tensor.of(new float[] {1, 2, 3}, 3), b = Tensor.of(new float[] {4, 5, 6}, 3);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, Shapes.stack(0, a, b).toFloatArray());
        Tensor s1 = Shapes.stack(-1, List.of(a, b));
        assertArrayEquals(new int[] {3, 2}, s1.shape());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, s1.toFloatArray());
        Tensor m = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor s2 = Shapes.stack(1, m, m.narrow(1, 0, 3));
        assertArrayEquals(new int[] {2, 2, 3}, s2.shape());
        assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, s2.toFloatArray());
    }

    @Test
    void concatAndStackGradients() {
        Tensor a = GradCheck.randn(1, 3, 1, 2);
        Tensor b = GradCheck.randn(2, 3, 3, 2);
        Tensor c = GradCheck.randn(3, 2, 5, 3);
        GradCheck.check("concat axis -2", in -> Shapes.concat(-2, in[0], in[1], in[2].transpose(0, 2)), a, b, c);
        GradCheck.check("concat axis 0 transposed", in -> Shapes.concat(0, in[0].transpose(0, 1), in[1].permute(1, 2, 0)), a, c);
        Tensor p = GradCheck.randn(4, 3, 5);
        Tensor q = GradCheck.randn(5, 5, 3);
        for (int axis : new int[] {0, 1, 2, -1, -3}) {
            GradCheck.check("stack " + axis, in -> Shapes.stack(axis, in[0], in[1].transpose(0, 1), in[0]), p, q);
        }
    }

    @Test
    void frozenPartsGetNoGradient() {
        Tensor frozen = Tensor.of(new double[] {1, 2}, 1, 2);
        Tensor trained = GradCheck.randn(6, 3, 2);
        GradCheck.check("concat with frozen part", in -> Shapes.concat(0, in[0], in[1]), frozen, trained);
        assertNull(frozen.grad());
        assertNull(Shapes.concat(0, frozen, frozen).gradFn());
        assertNull(Shapes.split(frozen, 1, 1, 1)[0].gradFn());
    }

    @Test
    void splitsConsumedTogetherAccumulate() {
        Tensor x = GradCheck.randn(7, 4, 6);
        GradCheck.check("split reassembled", in -> {
            Tensor[] p = Shapes.split(in[0], -1, 1, 3, 2);
            return Shapes.concat(1, p[2], p[0], p[1], p[0], p[2]);
        }, x);
        Tensor y = GradCheck.randn(8, 5, 3);
        GradCheck.check("chunks of a transposed view", in -> {
            Tensor[] p = Shapes.chunk(in[0].transpose(0, 1), 1, 2);
            return Shapes.stack(0, p[0].narrow(1, 0, 2), p[1], p[0].narrow(1, 1, 2));
        }, y);
        // one backward through all pieces: x.grad = ones where used once, twos where used twice
        Tensor z = Tensor.of(new double[] {1, 2, 3, 4}, 4).requiresGrad(true);
        Tensor[] p = Shapes.split(z, 0, 1, 2, 1);
        Tensor joined = Shapes.concat(0, p[0], p[1], p[0], p[2], p[2], p[2]);
        Autograd.backward(joined, Tensor.full(DType.F64, 1.0, joined.shape()));
        assertArrayEquals(new double[] {2, 1, 1, 3}, z.grad().toDoubleArray());
    }

    @Test
    void f32MatchesF64() {
        Tensor x = randomF32(4, 37, 19), y = randomF32(5, 37, 3);
        Tensor xd = x.to(DType.F64), yd = y.to(DType.F64);
        assertArrayEquals(Shapes.concat(1, xd, yd).toDoubleArray(), toDoubles(Shapes.concat(1, x, y)));
        assertArrayEquals(Shapes.stack(1, x.transpose(0, 1), x.transpose(0, 1)).toFloatArray(),
                Shapes.stack(1, xd.transpose(0, 1), xd.transpose(0, 1)).toFloatArray());
        Tensor mixed = Shapes.concat(0, x, xd);
        assertEquals(DType.F64, mixed.dtype());
    }

    @Test
    void badShapesAreRejected() {
        Tensor a = Tensor.zeros(2, 3), b = Tensor.zeros(3, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shapes.concat(1, a, b));
        assertTrue(e.getMessage().contains("[3, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Shapes.concat(0, a, Tensor.zeros(3)));
        assertThrows(IllegalArgumentException.class, () -> Shapes.split(a, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> Shapes.stack(0, a, b));
        assertThrows(IllegalArgumentException.class, () -> Shapes.stack(3, a, a));
        assertThrows(IllegalArgumentException.class, () -> Shapes.concat(2, a, a));
    }

    private static int[] sizes(Tensor[] pieces, int axis) {
        int[] s = new int[pieces.length];
        for (int i = 0; i < s.length; i++) s[i] = pieces[i].size(axis);
        return s;
    }

    private static double[] toDoubles(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static Tensor randomF32(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }

    @Test
    void concatKeepsIntegerTensorsInteger() {
        Tensor a = Tensor.of(new long[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new long[] {-100, (1L << 40) + 1}, 2, 1);
        Tensor c = Shapes.concat(1, a, b);
        org.junit.jupiter.api.Assertions.assertEquals(org.peft4j.tensor.DType.I64, c.dtype());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {1, 2, -100, 3, 4, (1L << 40) + 1}, c.toLongArray());
    }
}
