package org.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.data.TaskType;

/** Metric values on hand-computed examples (the same numbers scikit-learn gives). */
class MetricsTest {
    @Test
    void accuracyAndMacroF1OnThreeClasses() {
        int[] gold = {0, 0, 1, 1, 2, 2};
        int[] pred = {0, 1, 1, 1, 2, 0};
        assertEquals(4.0 / 6, Metrics.accuracy(pred, gold), 1e-12);
        // class 0: tp 1, fp 1, fn 1 → 0.5; class 1: tp 2, fp 1 → 0.8; class 2: tp 1, fn 1 → 2/3
        assertEquals((0.5 + 0.8 + 2.0 / 3) / 3, Metrics.macroF1(pred, gold), 1e-12);
    }

    @Test
    void macroF1CountsClassesSeenOnlyInPredictions() {
        // sklearn: labels = union of gold and predicted; class 1 never right → F1 0
        assertEquals((2.0 / 3 + 0) / 2, Metrics.macroF1(new int[] {0, 1}, new int[] {0, 0}), 1e-12);
        assertEquals(1.0, Metrics.macroF1(new int[] {1, 0, 1}, new int[] {1, 0, 1}), 1e-12);
    }

    @Test
    void regressionMetrics() {
        double[] gold = {1, 2, 3, 4};
        double[] pred = {1.5, 2, 2, 5};
        assertEquals((0.25 + 0 + 1 + 1) / 4, Metrics.mse(pred, gold), 1e-12);
        assertEquals(1.0, Metrics.pearson(new double[] {2, 4, 6, 8}, gold), 1e-12);
        assertEquals(-1.0, Metrics.pearson(new double[] {8, 6, 4, 2}, gold), 1e-12);
        assertTrue(Double.isNaN(Metrics.pearson(new double[] {3, 3, 3, 3}, gold)));
    }

    @Test
    void perplexityIsExpOfMeanNll() {
        assertEquals(Math.exp(2.0), Metrics.perplexity(20.0, 10), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Metrics.perplexity(1, 0));
    }

    @Test
    void selectionDirection() {
        assertEquals(Metrics.ACCURACY, Metrics.primary(TaskType.CLASSIFICATION));
        assertEquals(Metrics.MSE, Metrics.primary(TaskType.REGRESSION));
        assertEquals(Metrics.PERPLEXITY, Metrics.primary(TaskType.CAUSAL_LM));
        assertTrue(Metrics.improves(Metrics.ACCURACY, 0.9, 0.8));
        assertFalse(Metrics.improves(Metrics.ACCURACY, 0.8, 0.8));
        assertTrue(Metrics.improves(Metrics.MSE, 0.1, 0.2));
        assertTrue(Metrics.improves(Metrics.PERPLEXITY, 5, Double.NaN));
        assertFalse(Metrics.improves(Metrics.PERPLEXITY, Double.NaN, 5));
    }

    @Test
    void mismatchedLengthsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Metrics.accuracy(new int[2], new int[3]));
        assertTrue(e.getMessage().contains("2 predictions for 3"));
    }
}
