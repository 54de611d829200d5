package org.peft4j.adapters.fusion;

import java.util.List;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.bottleneck.Init;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.composition.Single;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.ops.Shapes;
import org.peft4j.ops.Softmax;
import org.peft4j.tensor.Tensor;

/**
 * One AdapterFusion layer at one bottleneck site (AdapterHub's {@code BertFusion}), with children
 * {@code query} and {@code key} (Linear d→d with bias) and {@code value} (Linear d→d without bias).
 *
 * <p>Given the query hidden states q [B, T, d], the N adapters' scaled bottleneck outputs u_i [B, T, d]
 * and the residual r: {@code scores_i = (W_Q q + b_Q)·(W_K u_i + b_K)}, dropout on the scores,
 * {@code p = softmax(scores / T)} over the adapters and {@code out = Σ p_i W_V u_i + r}. A projection whose
 * flag is off is the identity ({@code static} fusion has no value). {@code value_before_softmax=false}
 * applies W_V after the weighted sum instead; {@code residual_before} adds r to every u_i (which then feed
 * the keys and the values, as AdapterHub's in-place add does) instead of to the output.
 *
 * <p>Temperature: with {@code temperature} on, T = max(50 − 0.05·steps, 1), where {@code steps} counts this
 * layer's training-mode forwards (AdapterHub lowers T after every forward; peft4j only while training, so
 * evaluation does not move the schedule). Without it T = 1.
 */
public final class FusionLayer extends Module {
    /** AdapterHub's starting temperature; it falls by a thousandth of it per step. */
    static final double START_TEMPERATURE = 50.0;
    static final double TEMPERATURE_STEP = START_TEMPERATURE / 1000.0;
    /** AdapterHub's weight of the value regularisation term. */
    static final double VALUE_REGULARIZATION = 0.01;

    private final FusionConfig config;
    private long steps;

    /** A new layer of width {@code hidden}: W_Q, W_K ~ normal(0.02) with zero biases, W_V = identity with 1e-6 elsewhere. */
    public FusionLayer(FusionConfig config, int hidden, RandomGenerator rng) {
        this.config = config;
        if (config.query()) registerModule("query", new Linear(Init.normal(rng, 0.02, hidden, hidden), Init.zeros(hidden)));
        if (config.key()) registerModule("key", new Linear(Init.normal(rng, 0.02, hidden, hidden), Init.zeros(hidden)));
        if (config.value()) {
            Tensor w = config.valueInitialized() ? nearIdentity(hidden) : Init.normal(rng, 0.02, hidden, hidden);
            registerModule("value", new Linear(w, null));
        }
    }

    /** The identity with 1e-6 off the diagonal (AdapterHub's {@code value_initialized}). */
    private static Tensor nearIdentity(int d) {
        float[] v = new float[d * d];
        java.util.Arrays.fill(v, 1e-6f);
        for (int i = 0; i < d; i++) v[i * d + i] = 1f;
        return Tensor.of(v, d, d);
    }

    /** The fusion layer key for these adapters: their names joined by commas ({@code "a,b,c"}). */
    public static String key(List<String> adapters) { return String.join(",", adapters); }

    /** AdapterHub's {@code Fuse.name}: the last adapter of each child, joined by commas. */
    public static String key(Fuse fuse) { return key(fuse.children().stream().map(FusionLayer::lastAdapter).toList()); }

    /** The last adapter name of a block, descending into its last child (AdapterHub's {@code last()}). */
    public static String lastAdapter(Composition block) {
        Composition c = block;
        while (!(c instanceof Single single)) c = c.children().getLast();
        return single.name();
    }

    public FusionConfig config() { return config; }

    /** Training-mode forwards so far (the temperature schedule's clock). */
    public long steps() { return steps; }

    /** Sets the schedule's clock, e.g. when resuming training. */
    public void setSteps(long steps) {
        if (steps < 0) throw new IllegalArgumentException("fusion steps must be >= 0, got " + steps);
        this.steps = steps;
    }

    /** The softmax temperature of the next forward: max(50 − 0.05·steps, 1) with {@code temperature}, else 1. */
    public double temperature() {
        return config.temperature() ? Math.max(START_TEMPERATURE - TEMPERATURE_STEP * steps, 1.0) : 1.0;
    }

    /**
     * Fuses the adapters' outputs.
     *
     * @param query    q [B, T, d]: the hidden states the last adapter's placement reads
     * @param ups      u_i [B, T, d] per adapter, in the block's order
     * @param residual r [B, T, d]
     * @param pass     the forward pass (dropout and the training flag), or null outside a model
     */
    public Tensor forward(Tensor query, List<Tensor> ups, Tensor residual, ForwardState pass) {
        Tensor u = Shapes.stack(2, ups); // [B, T, N, d]
        if (config.residualBefore()) u = Elementwise.add(u, residual.unsqueeze(2));
        Tensor q = project("query", query);
        Tensor k = project("key", u);
        Tensor v = config.valueBeforeSoftmax() ? project("value", u) : u;
        Tensor scores = Reductions.sum(Elementwise.mul(q.unsqueeze(2), k), -1, false); // [B, T, N]
        if (pass != null) scores = pass.dropout(scores, config.dropout());
        double t = temperature();
        Tensor p = Softmax.softmax(t == 1.0 ? scores : Elementwise.scale(scores, 1.0 / t), -1);
        Tensor out = Reductions.sum(Elementwise.mul(p.unsqueeze(-1), v), 2, false);
        if (!config.valueBeforeSoftmax()) out = project("value", out);
        if (!config.residualBefore()) out = Elementwise.add(out, residual);
        if (pass != null && pass.training()) steps++;
        return out;
    }

    /** The child projection applied to x, or x itself when the layer has none of that name. */
    private Tensor project(String name, Tensor x) {
        return hasChild(name) ? this.<Linear>child(name).forward(x) : x;
    }

    /** The layer's value regularisation 0.01·‖I − W_V‖² (a differentiable scalar), or null without a value projection. */
    public Tensor valueRegularization() {
        if (!hasChild("value")) return null;
        Tensor w = this.<Linear>child("value").weight();
        int d = w.size(0);
        Tensor identity = Tensor.zeros(w.computeType(), d, d);
        for (int i = 0; i < d; i++) identity.setFlat((long) i * d + i, 1.0);
        return Elementwise.scale(Reductions.sum(Elementwise.square(Elementwise.sub(identity, w))), VALUE_REGULARIZATION);
    }
}
