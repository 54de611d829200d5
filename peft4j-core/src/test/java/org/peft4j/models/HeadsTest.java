package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.models.heads.ClassificationHead.Task;
import org.peft4j.models.heads.Pooling;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class HeadsTest {
    private static final ForwardState EVAL = new ForwardState(null, null, false, null);

    /** hidden[b, t, h] = 100 b + 10 t + h, so every pooled value shows where it came from. */
    private static Tensor hidden(int b, int t, int h) {
        float[] v = new float[b * t * h];
        for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) for (int k = 0; k < h; k++) v[(i * t + j) * h + k] = 100 * i + 10 * j + k;
        return Tensor.of(v, b, t, h);
    }

    /** Row 0 full, row 1 right-padded after 2 tokens, row 2 left-padded (2 tokens at the end), row 3 all padding. */
    private static final Tensor MASK = Tensor.of(new long[] {
        1, 1, 1, 1,
        1, 1, 0, 0,
        0, 0, 1, 1,
        0, 0, 0, 0}, 4, 4);

    @Test
    void clsPoolingTakesTheFirstPosition() {
        Tensor p = Pooling.CLS.pool(hidden(4, 4, 3), MASK);
        assertArrayEquals(new int[] {4, 3}, p.shape());
        assertArrayEquals(new float[] {0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302}, p.toFloatArray());
    }

    @Test
    void meanPoolingAveragesRealTokensAndGivesZerosForAnAllPaddingRow() {
        Tensor p = Pooling.MEAN.pool(hidden(4, 4, 3), MASK);
        assertArrayEquals(new int[] {4, 3}, p.shape());
        float[] want = {
            15, 16, 17,     // mean of t = 0..3
            105, 106, 107,  // t = 0, 1
            225, 226, 227,  // t = 2, 3
            0, 0, 0};       // no real token: zeros, not NaN
        assertArrayEquals(want, p.toFloatArray(), 1e-4f);
    }

    @Test
    void lastPoolingTakesTheLastRealToken() {
        Tensor p = Pooling.LAST.pool(hidden(4, 4, 3), MASK);
        assertArrayEquals(new float[] {30, 31, 32, 110, 111, 112, 230, 231, 232, 300, 301, 302}, p.toFloatArray(), 0f);
    }

    @Test
    void poolingNamesParse() {
        assertEquals(Pooling.MEAN, Pooling.parse(" Mean "));
        assertEquals(Pooling.CLS, Pooling.parse("cls"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pooling.parse("max"));
        assertTrue(e.getMessage().contains("max") && e.getMessage().contains("mean"), e.getMessage());
    }

    @Test
    void sequenceAndTokenHeadShapes() {
        Tensor h = hidden(4, 4, 3);
        ClassificationHead seq = new ClassificationHead(Task.SEQUENCE, Pooling.MEAN, 3, List.of("neg", "neu", "pos"), 0.1, 1);
        assertArrayEquals(new int[] {4, 3}, seq.forward(h, MASK, EVAL).shape());
        ClassificationHead tok = new ClassificationHead(Task.TOKEN, Pooling.CLS, 3, List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC"), 0.1, 1);
        assertArrayEquals(new int[] {4, 4, 5}, tok.forward(h, MASK, EVAL).shape());
        assertEquals(List.of("O", "B-PER", "I-PER", "B-LOC", "I-LOC"), tok.labels());
    }

    @Test
    void regressionIsASingleLabelSequenceHead() {
        assertTrue(new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 8, List.of("score"), 0, 1).isRegression());
        assertFalse(new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 8, List.of("a", "b"), 0, 1).isRegression());
        assertFalse(new ClassificationHead(Task.TOKEN, Pooling.CLS, 8, List.of("tag"), 0, 1).isRegression());
        assertArrayEquals(new int[] {4, 1},
                new ClassificationHead(Task.SEQUENCE, Pooling.LAST, 3, List.of("score"), 0, 1).forward(hidden(4, 4, 3), MASK, EVAL).shape());
        assertThrows(IllegalArgumentException.class, () -> new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 8, List.of(), 0, 1));
    }

    @Test
    void classifierIsTrainableAndInitialisedAsHuggingFaceDoes() {
        ClassificationHead head = new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 256, List.of("a", "b", "c", "d"), 0, 9);
        Linear c = head.child("classifier");
        assertTrue(c.weight().requiresGrad() && c.bias().requiresGrad());
        assertEquals(2, head.trainableParameters().size());
        assertArrayEquals(new int[] {4, 256}, c.weight().shape());
        double sum = 0, sq = 0;
        float[] w = c.weight().toFloatArray();
        for (float x : w) {
            sum += x;
            sq += x * x;
        }
        double std = Math.sqrt(sq / w.length - (sum / w.length) * (sum / w.length));
        assertEquals(0.02, std, 0.002);
        assertArrayEquals(new float[4], c.bias().toFloatArray());
        Linear same = new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 256, List.of("a", "b", "c", "d"), 0, 9).child("classifier");
        assertArrayEquals(w, same.weight().toFloatArray(), "seeded");
        Linear other = new ClassificationHead(Task.SEQUENCE, Pooling.CLS, 256, List.of("a", "b", "c", "d"), 0, 10).child("classifier");
        assertNotEquals(w[0], other.weight().toFloatArray()[0]);
    }

    @Test
    void headGradientsMatchFiniteDifferences() {
        for (Pooling pooling : Pooling.values()) {
            for (Task task : Task.values()) {
                ClassificationHead head = new ClassificationHead(task, pooling, 5, List.of("a", "b", "c"), 0.3, 1);
                Tensor h = GradCheck.randn(1, 4, 4, 5);
                Tensor w = GradCheck.randn(2, 3, 5);
                Tensor b = GradCheck.randn(3, 3);
                GradCheck.check(task + "/" + pooling, in -> {
                    head.registerModule("classifier", new Linear(in[1], in[2]));
                    return head.forward(in[0], MASK, EVAL);
                }, h, w, b);
            }
        }
    }

    @Test
    void meanPoolingGradientFlowsOnlyToRealTokens() {
        Tensor h = GradCheck.randn(4, 4, 4, 2);
        GradCheck.check("mean pooling", in -> Pooling.MEAN.pool(in[0], MASK), h);
        Tensor g = h.grad();
        for (int t = 0; t < 4; t++) {
            for (int k = 0; k < 2; k++) {
                assertEquals(0.0, Math.abs(g.get(3, t, k)), "all-padding row");
                assertEquals(0.0, Math.abs(g.get(1, 2 + t / 2, k)), "padding of row 1");
            }
        }
        assertEquals(DType.F64, g.dtype());
    }
}
