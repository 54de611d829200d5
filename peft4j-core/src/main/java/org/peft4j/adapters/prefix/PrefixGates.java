package org.peft4j.adapters.prefix;

import java.util.random.RandomGenerator;
import org.peft4j.models.KvCache;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.Tensor;

/**
 * UniPELT's gate on AdapterHub prefix tuning ({@code use_gating}): per layer a {@code Linear(hidden → 2)}
 * ({@code → 1} with {@code shared_gating}) under {@code prefix_tuning.prefix_tunings.<name>.prefix_gates.<layer>}.
 * From the attention layer's input x [B, T, H], {@code g = mean over T of sigmoid(gate(x))} [B, 2]; the
 * layer's prefix keys are multiplied by {@code g[:, 0]} and its values by {@code g[:, last]}, one factor per
 * example. As in AdapterHub the mean runs over every position, padding included. AdapterHub keeps these
 * tensors at {@code <attention>.prefix_tuning.prefix_gates.<name>} of each layer.
 */
public final class PrefixGates extends Module implements KvCache.PrefixGate {
    /** The container of the gates below the adapter's {@code prefix_tuning.prefix_tunings.<name>}. */
    public static final String NAME = "prefix_gates";

    /**
     * Gates for {@code layers} layers of width {@code hidden}, initialised as AdapterHub does: weight
     * normal(0, 0.02), bias PyTorch's Linear default U(-1/√hidden, 1/√hidden).
     */
    public PrefixGates(int layers, int hidden, boolean shared, RandomGenerator rng) {
        int outputs = shared ? 1 : 2;
        for (int l = 0; l < layers; l++) {
            Tensor weight = Init.normal(rng, outputs, hidden);
            for (long i = 0; i < weight.numel(); i++) weight.setFlat(i, 0.02 * weight.getFlat(i));
            registerModule(Integer.toString(l), new Linear(weight, Init.linearUniform(rng, hidden, outputs)));
        }
    }

    /** The tree path of adapter {@code name}'s gates below {@code PeftModel.extras()}. */
    public static String path(String name) { return "prefix_tuning.prefix_tunings." + name + "." + NAME; }

    /** The per-example factors [B, 1 or 2] of layer {@code layer} for attention input {@code input} [B, T, H]. */
    public Tensor factors(int layer, Tensor input) {
        Tensor scores = Activations.sigmoid(this.<Linear>child(Integer.toString(layer)).forward(input));
        return Reductions.mean(scores, 1, false);
    }

    @Override
    public Tensor[] apply(int layer, Tensor input, Tensor keys, Tensor values) {
        Tensor g = factors(layer, input);
        int b = g.size(0), outputs = g.size(1);
        Tensor keyFactor = g.narrow(1, 0, 1).reshape(b, 1, 1, 1);
        Tensor valueFactor = g.narrow(1, outputs - 1, 1).reshape(b, 1, 1, 1);
        return new Tensor[] {Elementwise.mul(keys, keyFactor), Elementwise.mul(values, valueFactor)};
    }
}
