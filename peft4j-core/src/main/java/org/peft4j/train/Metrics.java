package org.peft4j.train;

import java.util.TreeSet;
import org.peft4j.data.TaskType;

/**
 * Evaluation metrics, computed as scikit-learn and the Hugging Face course define them, and which one
 * selects the best checkpoint of each task.
 */
public final class Metrics {
    public static final String ACCURACY = "accuracy";
    public static final String MACRO_F1 = "macro_f1";
    public static final String MSE = "mse";
    public static final String PEARSON = "pearson";
    public static final String PERPLEXITY = "perplexity";
    public static final String LOSS = "loss";

    private Metrics() {}

    /** The metric that chooses the best checkpoint: accuracy, MSE or perplexity. */
    public static String primary(TaskType task) {
        return switch (task) {
            case CLASSIFICATION -> ACCURACY;
            case REGRESSION -> MSE;
            case CAUSAL_LM -> PERPLEXITY;
        };
    }

    /** Whether a larger value of {@code metric} is better (accuracy, F1, correlation) or worse (errors, loss). */
    public static boolean higherIsBetter(String metric) {
        return metric.equals(ACCURACY) || metric.equals(MACRO_F1) || metric.equals(PEARSON);
    }

    /** Whether {@code candidate} beats {@code best} on {@code metric}; anything beats NaN (no best yet). */
    public static boolean improves(String metric, double candidate, double best) {
        if (Double.isNaN(candidate)) return false;
        if (Double.isNaN(best)) return true;
        return higherIsBetter(metric) ? candidate > best : candidate < best;
    }

    /** The share of rows whose predicted class equals the gold class. */
    public static double accuracy(int[] predicted, int[] gold) {
        checkLengths(predicted.length, gold.length);
        int right = 0;
        for (int i = 0; i < gold.length; i++) if (predicted[i] == gold[i]) right++;
        return (double) right / gold.length;
    }

    /**
     * The unweighted mean over classes of each class's F1 = 2·TP / (2·TP + FP + FN), over the classes
     * that occur among the gold or the predicted labels (scikit-learn's {@code f1_score(average='macro')});
     * a class with no true positive scores 0.
     */
    public static double macroF1(int[] predicted, int[] gold) {
        checkLengths(predicted.length, gold.length);
        TreeSet<Integer> classes = new TreeSet<>();
        for (int i = 0; i < gold.length; i++) {
            classes.add(gold[i]);
            classes.add(predicted[i]);
        }
        double sum = 0;
        for (int c : classes) {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < gold.length; i++) {
                if (predicted[i] == c && gold[i] == c) tp++;
                else if (predicted[i] == c) fp++;
                else if (gold[i] == c) fn++;
            }
            sum += tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
        }
        return sum / classes.size();
    }

    /** Mean squared error. */
    public static double mse(double[] predicted, double[] gold) {
        checkLengths(predicted.length, gold.length);
        double sum = 0;
        for (int i = 0; i < gold.length; i++) {
            double d = predicted[i] - gold[i];
            sum += d * d;
        }
        return sum / gold.length;
    }

    /** Pearson's correlation coefficient; NaN when either side is constant (it is undefined then). */
    public static double pearson(double[] predicted, double[] gold) {
        checkLengths(predicted.length, gold.length);
        int n = gold.length;
        double mp = 0, mg = 0;
        for (int i = 0; i < n; i++) {
            mp += predicted[i];
            mg += gold[i];
        }
        mp /= n;
        mg /= n;
        double cov = 0, vp = 0, vg = 0;
        for (int i = 0; i < n; i++) {
            double a = predicted[i] - mp, b = gold[i] - mg;
            cov += a * b;
            vp += a * a;
            vg += b * b;
        }
        return vp == 0 || vg == 0 ? Double.NaN : cov / Math.sqrt(vp * vg);
    }

    /** exp of the mean negative log-likelihood per predicted token. */
    public static double perplexity(double nllSum, long tokens) {
        if (tokens <= 0) throw new IllegalArgumentException("perplexity needs at least one predicted token, got " + tokens);
        return Math.exp(nllSum / tokens);
    }

    private static void checkLengths(int predicted, int gold) {
        if (predicted != gold) throw new IllegalArgumentException(predicted + " predictions for " + gold + " gold values");
        if (gold == 0) throw new IllegalArgumentException("a metric needs at least one example");
    }
}
