package org.peft4j.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.data.Batcher;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;
import org.peft4j.data.TaskType;
import org.peft4j.train.TaskModel;

/** Labels (or values) of texts under a trained task model, in batches. */
final class Predictor {
    /**
     * One text's prediction.
     *
     * @param text          the text
     * @param label         the most probable class (classification), else null
     * @param probability   its probability (classification), else NaN
     * @param probabilities every class's probability in label order (classification), else empty
     * @param value         the predicted value (regression), else NaN
     */
    record Prediction(String text, String label, double probability, Map<String, Double> probabilities, double value) {}

    private final TaskModel model;
    private final Batcher batcher;

    Predictor(TaskModel model, Batcher batcher) {
        if (model.task() == TaskType.CAUSAL_LM) {
            throw new IllegalArgumentException("predict labels texts with a classification or regression adapter; this one is"
                    + " a causal language model");
        }
        this.model = model;
        this.batcher = batcher;
    }

    /** The predictions of {@code texts}, in order. */
    List<Prediction> predict(List<String> texts) {
        List<Prediction> out = new ArrayList<>(texts.size());
        // The rows carry no targets. A classification dataset requires a label on every example, so the
        // texts travel as a regression dataset without values: the batcher then makes no label tensor,
        // and the model predicts its own task whatever the dataset says.
        List<Example> examples = texts.stream().map(t -> Example.valued(t, Double.NaN)).toList();
        Dataset unlabeled = new Dataset("input", TaskType.REGRESSION, examples, List.of());
        List<String> labels = model.labels();
        for (int start = 0; start < examples.size(); start += batcher.batchSize()) {
            List<Example> group = examples.subList(start, Math.min(examples.size(), start + batcher.batchSize()));
            float[] p = model.predict(batcher.batch(unlabeled, group)).contiguous().floats();
            for (int r = 0; r < group.size(); r++) {
                String text = group.get(r).text();
                if (model.task() == TaskType.REGRESSION) {
                    out.add(new Prediction(text, null, Double.NaN, Map.of(), p[r]));
                    continue;
                }
                int classes = labels.size(), best = 0;
                Map<String, Double> probabilities = new LinkedHashMap<>();
                for (int c = 0; c < classes; c++) {
                    probabilities.put(labels.get(c), (double) p[r * classes + c]);
                    if (p[r * classes + c] > p[r * classes + best]) best = c;
                }
                out.add(new Prediction(text, labels.get(best), p[r * classes + best], probabilities, Double.NaN));
            }
        }
        return out;
    }
}
