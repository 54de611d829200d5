package org.peft4j.models.heads;

import java.util.List;
import java.util.SplittableRandom;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * A task head over hidden states: sequence classification or regression ({@code numLabels == 1})
 * over pooled states, or token classification over every position. The {@code classifier} projection
 * is trainable and initialised as Hugging Face does (normal, std 0.02, zero bias).
 */
public final class ClassificationHead extends Module {
    /** The task a head serves. */
    public enum Task { SEQUENCE, TOKEN }

    private final Task task;
    private final Pooling pooling;
    private final double dropout;
    private final List<String> labels;

    public ClassificationHead(Task task, Pooling pooling, int hidden, List<String> labels, double dropout, long seed) {
        if (labels.isEmpty()) throw new IllegalArgumentException("a head needs at least one label");
        this.task = task;
        this.pooling = pooling;
        this.dropout = dropout;
        this.labels = List.copyOf(labels);
        SplittableRandom rng = new SplittableRandom(seed);
        float[] w = new float[labels.size() * hidden];
        for (int i = 0; i < w.length; i++) w[i] = (float) (0.02 * gaussian(rng));
        Tensor weight = Tensor.of(w, labels.size(), hidden).requiresGrad(true);
        Tensor bias = Tensor.zeros(labels.size()).requiresGrad(true);
        registerModule("classifier", new Linear(weight, bias));
    }

    public Task task() { return task; }

    public Pooling pooling() { return pooling; }

    /** Label names; a single label means regression. */
    public List<String> labels() { return labels; }

    public boolean isRegression() { return task == Task.SEQUENCE && labels.size() == 1; }

    /** Logits [B, numLabels] (sequence) or [B, T, numLabels] (token). */
    public Tensor forward(Tensor hidden, Tensor attentionMask, ForwardState s) {
        Tensor x = task == Task.SEQUENCE ? pooling.pool(hidden, attentionMask) : hidden;
        return this.<Linear>child("classifier").forward(s.dropout(x, dropout));
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
