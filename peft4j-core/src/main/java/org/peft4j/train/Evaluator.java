package org.peft4j.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.autograd.GradMode;
import org.peft4j.data.Batch;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/** Scores a {@link TaskModel} on a labelled dataset, without dropout or gradients. */
public final class Evaluator {
    private Evaluator() {}

    /**
     * The task's metrics on {@code data}, the selection metric first: {@code accuracy}, {@code macro_f1}
     * and {@code loss} (classification); {@code mse} and, when defined, {@code pearson} (regression);
     * {@code perplexity} and {@code loss}, the mean per-token cross-entropy (causal LM).
     */
    public static Map<String, Double> evaluate(TaskModel model, Dataset data, BatchSource source) {
        return evaluate(model, data, source, new Workspace());
    }

    /**
     * As {@link #evaluate(TaskModel, Dataset, BatchSource)}, each batch in a scope of {@code workspace}:
     * a trainer passes its own, so that evaluation batches shaped like training batches reuse its arrays
     * instead of holding a second set beside them.
     */
    public static Map<String, Double> evaluate(TaskModel model, Dataset data, BatchSource source, Workspace workspace) {
        if (data.size() == 0) throw new IllegalArgumentException(data.name() + ": nothing to evaluate, the set is empty");
        if (data.task() != model.task()) {
            throw new IllegalArgumentException(data.name() + " is a " + data.task() + " dataset but the model does " + model.task());
        }
        boolean wasTraining = model.isTraining();
        model.trainMode(false);
        try (var scope = GradMode.noGrad()) {
            return switch (model.task()) {
                case CLASSIFICATION -> classification(model, data, source, workspace);
                case REGRESSION -> regression(model, data, source, workspace);
                case CAUSAL_LM -> causalLm(model, data, source, workspace);
            };
        } finally {
            model.trainMode(wasTraining);
        }
    }

    private static Map<String, Double> classification(TaskModel model, Dataset data, BatchSource source, Workspace workspace) {
        int[] predicted = new int[data.size()], gold = new int[data.size()];
        double lossSum = 0;
        int row = 0;
        for (List<Example> group : source.evalOrder(data)) {
            Batch batch = source.batch(data, group);
            try (Workspace.Scope scope = workspace.open()) {
                Tensor logits = model.output(batch, null);
                lossSum += model.loss(logits, batch).item() * batch.size();
                long[] labels = batch.labels().toLongArray();
                int classes = logits.size(1);
                float[] l = logits.contiguous().floats();
                for (int r = 0; r < batch.size(); r++, row++) {
                    int best = 0;
                    for (int c = 1; c < classes; c++) if (l[r * classes + c] > l[r * classes + best]) best = c;
                    predicted[row] = best;
                    gold[row] = (int) labels[r];
                }
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put(Metrics.ACCURACY, Metrics.accuracy(predicted, gold));
        out.put(Metrics.MACRO_F1, Metrics.macroF1(predicted, gold));
        out.put(Metrics.LOSS, lossSum / data.size());
        return out;
    }

    private static Map<String, Double> regression(TaskModel model, Dataset data, BatchSource source, Workspace workspace) {
        double[] predicted = new double[data.size()], gold = new double[data.size()];
        int row = 0;
        for (List<Example> group : source.evalOrder(data)) {
            Batch batch = source.batch(data, group);
            double[] values;
            try (Workspace.Scope scope = workspace.open()) {
                values = model.output(batch, null).toDoubleArray();
            }
            double[] targets = batch.labels().toDoubleArray();
            for (int r = 0; r < batch.size(); r++, row++) {
                predicted[row] = values[r];
                gold[row] = targets[r];
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put(Metrics.MSE, Metrics.mse(predicted, gold));
        double r = Metrics.pearson(predicted, gold);
        if (!Double.isNaN(r)) out.put(Metrics.PEARSON, r);
        return out;
    }

    private static Map<String, Double> causalLm(TaskModel model, Dataset data, BatchSource source, Workspace workspace) {
        double nll = 0;
        long tokens = 0;
        for (List<Example> group : source.evalOrder(data)) {
            Batch batch = source.batch(data, group);
            long count = model.targetCount(batch);
            if (count == 0) continue;
            try (Workspace.Scope scope = workspace.open()) {
                nll += model.loss(model.output(batch, null), batch).item() * count;
            }
            tokens += count;
        }
        if (tokens == 0) throw new IllegalArgumentException(data.name() + ": no text of two or more tokens to score perplexity on");
        Map<String, Double> out = new LinkedHashMap<>();
        out.put(Metrics.PERPLEXITY, Metrics.perplexity(nll, tokens));
        out.put(Metrics.LOSS, nll / tokens);
        return out;
    }
}
