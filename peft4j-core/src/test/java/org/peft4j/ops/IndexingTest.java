package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class IndexingTest {
    @Test
    void gatherFollowsTorch() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor idx = Tensor.of(new long[] {0, 0, 1, 0}, 2, 2);
        assertArrayEquals(new float[] {1, 1, 4, 3}, Indexing.gather(t, 1, idx).toFloatArray());
        assertArrayEquals(new float[] {1, 2, 3, 2}, Indexing.gather(t, 0, idx).toFloatArray());
        // index smaller than x outside the axis
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor one = Tensor.of(new long[] {2, 0}, 1, 2);
        assertArrayEquals(new float[] {3, 1}, Indexing.gather(x, -1, one).toFloatArray());
    }

    @Test
    void gatherGradientsAccumulate() {
        Tensor x = GradCheck.randn(1, 3, 5);
        Tensor idx = Tensor.of(new long[] {4, 4, 0, 1, 1, 1, 3, 2, 4}, 3, 3);
        GradCheck.check("gather axis -1", in -> Indexing.gather(in[0], -1, idx), x);
        Tensor idx0 = Tensor.of(new long[] {2, 2, 2, 0, 1, 2, 2, 0}, 4, 2);
        GradCheck.check("gather axis 0 of transposed", in -> Indexing.gather(in[0].transpose(0, 1), 0, idx0), x);
        Tensor y = GradCheck.randn(2, 1, 3, 1);
        Tensor idx3 = Tensor.of(new long[] {0, 0, 2, 1, 1}, 1, 5, 1);
        GradCheck.check("gather 3-d", in -> Indexing.gather(in[0], 1, idx3), y);
    }

    @Test
    void indexSelectRows() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor rows = Indexing.indexSelect(x, 0, Tensor.of(new long[] {2, 0, 2}, 3));
        assertArrayEquals(new float[] {5, 6, 1, 2, 5, 6}, rows.toFloatArray());
        Tensor i32 = Tensor.zeros(DType.I32, 2);
        i32.setFlat(0, 1);
        assertArrayEquals(new float[] {2, 1, 4, 3, 6, 5}, Indexing.indexSelect(x, -1, i32).toFloatArray());
    }

    @Test
    void indexSelectGradients() {
        Tensor x = GradCheck.randn(3, 5, 3, 2);
        Tensor idx = Tensor.of(new long[] {2, 0, 2, 2, 4}, 5);
        GradCheck.check("indexSelect axis 0", in -> Indexing.indexSelect(in[0], 0, idx), x);
        GradCheck.check("indexSelect axis -2 of permuted",
                in -> Indexing.indexSelect(in[0].permute(2, 1, 0), -2, Tensor.of(new long[] {1, 1}, 2)), x);
        Tensor p = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
        Tensor out = Indexing.indexSelect(p, 0, Tensor.of(new long[] {1, 1, 1, 0}, 4));
        Autograd.backward(out, Tensor.of(new double[] {1, 2, 3, 4}, 4));
        assertArrayEquals(new double[] {4, 6, 0}, p.grad().toDoubleArray());
    }

    @Test
    void outOfRangeIndicesNameIndexAndSize() {
        Tensor x = Tensor.zeros(4, 3);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.indexSelect(x, 0, Tensor.of(new long[] {1, 7}, 2)));
        assertTrue(e.getMessage().contains("index 7") && e.getMessage().contains("size 4"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.gather(x, 1, Tensor.of(new long[] {-1}, 1, 1)));
        assertTrue(e.getMessage().contains("index -1") && e.getMessage().contains("size 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Indexing.gather(x, 1, Tensor.of(new long[] {0, 0}, 2)));
        assertThrows(IllegalArgumentException.class, () -> Indexing.indexSelect(x, 0, Tensor.zeros(2)));
    }

    @Test
    void maskedFillBroadcasts() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor colMask = Tensor.zeros(DType.BOOL, 3);
        colMask.setFlat(1, 1);
        assertArrayEquals(new float[] {1, -9, 3, 4, -9, 6}, Indexing.maskedFill(x, colMask, -9).toFloatArray());
        Tensor rowMask = Tensor.of(new long[] {0, 5}, 2, 1);
        float[] inf = Indexing.maskedFill(x, rowMask, Double.NEGATIVE_INFINITY).toFloatArray();
        assertArrayEquals(new float[] {1, 2, 3, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, inf);
        assertThrows(IllegalArgumentException.class, () -> Indexing.maskedFill(x, Tensor.zeros(2), 0));
        assertThrows(IllegalArgumentException.class, () -> Indexing.maskedFill(x, Tensor.zeros(1, 2, 3), 0));
    }

    @Test
    void maskedFillGradients() {
        Tensor x = GradCheck.randn(4, 2, 3, 5);
        Tensor mask = Tensor.of(new float[] {1, 0, 0, 1, 0}, 5);
        GradCheck.check("maskedFill last-axis mask", in -> Indexing.maskedFill(in[0], mask, 7), x);
        Tensor mask2 = Tensor.of(new long[] {0, 1, 1, 0, 0, 1}, 2, 3, 1);
        GradCheck.check("maskedFill mask [2,3,1]", in -> Indexing.maskedFill(in[0], mask2, -1), x);
        GradCheck.check("maskedFill transposed x",
                in -> Indexing.maskedFill(in[0].transpose(0, 2), Tensor.of(new long[] {1, 0}, 1, 1, 2), 0), x);
        Tensor p = Tensor.of(new double[] {1, 2, 3}, 3).requiresGrad(true);
        Autograd.backward(Indexing.maskedFill(p, Tensor.of(new long[] {0, 1, 0}, 3), 5), Tensor.of(new double[] {1, 1, 1}, 3));
        assertArrayEquals(new double[] {1, 0, 1}, p.grad().toDoubleArray());
    }

    @Test
    void topKMaskKeepsLargestAndBreaksTiesByIndex() {
        Tensor x = Tensor.of(new float[] {1, 3, 3, 2, 5, 5, 5, -1}, 2, 4);
        assertArrayEquals(new float[] {0, 3, 0, 0, 5, 0, 0, 0}, Indexing.topKMask(x, 1).toFloatArray());
        assertArrayEquals(new float[] {0, 3, 3, 0, 5, 5, 0, 0}, Indexing.topKMask(x, 2).toFloatArray());
        assertArrayEquals(new float[] {0, 3, 3, 2, 5, 5, 5, 0}, Indexing.topKMask(x, 3).toFloatArray());
        assertArrayEquals(x.toFloatArray(), Indexing.topKMask(x, 4).toFloatArray());
        assertArrayEquals(new float[8], Indexing.topKMask(x, 0).toFloatArray());
        assertArrayEquals(new long[] {1, 2, 3, 0, 1, 2}, Indexing.topKIndices(x, 3).toLongArray());
        Tensor neg = Tensor.of(new float[] {-4, -2, -3}, 3);
        assertArrayEquals(new float[] {0, -2, -3}, Indexing.topKMask(neg, 2).toFloatArray());
        assertArrayEquals(new long[] {1, 2}, Indexing.topKIndices(neg, 2).toLongArray());
        assertThrows(IllegalArgumentException.class, () -> Indexing.topKMask(x, 5));
    }

    @Test
    void topKMaskGradients() {
        Tensor x = GradCheck.randn(5, 3, 7);
        GradCheck.check("topKMask k=2", in -> Indexing.topKMask(in[0], 2), x);
        GradCheck.check("topKMask k=1 transposed", in -> Indexing.topKMask(in[0].transpose(0, 1), 1), x);
        GradCheck.check("topKMask k=n", in -> Indexing.topKMask(in[0], 7), x);
        Tensor y = GradCheck.randn(6, 2, 1, 5);
        GradCheck.check("topKMask 3-d", in -> Indexing.topKMask(in[0], 3), y);
    }

    @Test
    void topKF32MatchesF64() {
        Tensor x = ShapesTest.randomF32(9, 400, 101);
        Tensor xd = x.to(DType.F64);
        for (int k : new int[] {1, 17, 100}) {
            float[] f = Indexing.topKMask(x, k).toFloatArray();
            double[] d = Indexing.topKMask(xd, k).toDoubleArray();
            int kept = 0;
            for (int i = 0; i < f.length; i++) {
                assertEquals(d[i], f[i], 0.0);
                if (f[i] != 0) kept++;
            }
            assertEquals(400 * k, kept);
            long[] idx = Indexing.topKIndices(x, k).toLongArray();
            for (int r = 0; r < 400; r++) {
                for (int j = 1; j < k; j++) {
                    assertTrue(x.get(r, (int) idx[r * k + j - 1]) >= x.get(r, (int) idx[r * k + j]));
                }
            }
        }
    }
}
