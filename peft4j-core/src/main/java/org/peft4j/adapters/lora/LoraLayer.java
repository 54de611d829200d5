package org.peft4j.adapters.lora;

import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.LinearAdapter;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Dropout;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.MatMul;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One LoRA adapter on one linear layer, its tensors kept in the layer's containers under PEFT's
 * in-memory names: {@code lora_A.<name>.weight} [r, in], {@code lora_B.<name>.weight} [out, r], DoRA's
 * {@code lora_magnitude_vector.<name>.weight} [out], AdapterHub's gate {@code lora_gate.<name>} (Linear in → 1).
 *
 * <p>LoRA: {@code y = base(x) + s·B·A·dropout(x)}. DoRA (PEFT 0.21): with the row norms
 * n = ‖W + s·B·A‖ treated as constants (no gradient, as the DoRA paper suggests), the factor
 * f = m / n rescales the directional update: {@code y = base(x) + (f − 1)·W·x' + f·s·B·A·x'}, x' the
 * dropped-out input (W·x' is the base output less its bias when dropout is off). Gated (AdapterHub):
 * {@code y = base(x) + g·B·A·dropout(x)}, g the sequence mean of sigmoid(gate(x)).
 */
public final class LoraLayer implements LinearAdapter {
    static final String A = "lora_A", B = "lora_B", MAGNITUDE = "lora_magnitude_vector", GATE = "lora_gate";

    private final String name;
    private final int rank;
    private final double scaling;
    private final double dropout;
    private final boolean dora;
    private final boolean gated;
    private final RandomGenerator rng;
    /** The base weight before {@link LoraMerge#merge}, while this adapter is merged into the layer. */
    private Tensor unmergedWeight;

    LoraLayer(String name, int rank, double scaling, double dropout, boolean dora, boolean gated, RandomGenerator rng) {
        this.name = name;
        this.rank = rank;
        this.scaling = scaling;
        this.dropout = dropout;
        this.dora = dora;
        this.gated = gated;
        this.rng = rng;
    }

    /**
     * Creates the tensors of adapter {@code name} on {@code layer} (in the base weight's compute type),
     * initialises them, and registers the adapter. DoRA's magnitude starts at ‖W + s·B·A‖ so that the
     * fresh adapter changes nothing beyond what B·A does.
     */
    public static LoraLayer attach(AdaptedLinear layer, String name, int rank, double scaling, double dropout, boolean dora,
                                   boolean gated, LoraInit init, RandomGenerator rng) {
        if (layer.adapters().containsKey(name)) throw new IllegalArgumentException("adapter '" + name + "' is already on this layer");
        DType type = layer.base().weight().computeType();
        int in = layer.inFeatures(), out = layer.outFeatures();
        Tensor a = Tensor.zeros(type, rank, in), b = Tensor.zeros(type, out, rank);
        init.initA(a, rng);
        init.initB(b, rng);
        layer.container(A).registerModule(name, new Linear(a.requiresGrad(true), null));
        layer.container(B).registerModule(name, new Linear(b.requiresGrad(true), null));
        LoraLayer lora = new LoraLayer(name, rank, scaling, dropout, dora, gated, rng);
        if (dora) {
            ModuleDict m = new ModuleDict();
            m.registerParameter("weight", lora.weightNorm(layer.base().weightOutIn(), layer).requiresGrad(true));
            layer.container(MAGNITUDE).registerModule(name, m);
        }
        if (gated) {
            Tensor w = Tensor.zeros(type, 1, in), bias = Tensor.zeros(type, 1);
            LoraInit.normal(w, 0.02, rng);
            LoraInit.uniform(bias, 1 / Math.sqrt(in), rng);
            layer.container(GATE).registerModule(name, new Linear(w.requiresGrad(true), bias.requiresGrad(true)));
        }
        layer.add(name, lora);
        return lora;
    }

    public int rank() { return rank; }

    /** The factor of the branch: α/r or α/√r (1 when gated: the gate scales instead). */
    public double scaling() { return scaling; }

    public boolean isDora() { return dora; }

    public boolean isGated() { return gated; }

    public Tensor loraA(AdaptedLinear layer) { return layer.container(A).<Linear>child(name).weight(); }

    public Tensor loraB(AdaptedLinear layer) { return layer.container(B).<Linear>child(name).weight(); }

    /** DoRA's magnitude vector [out] (an error for plain LoRA). */
    public Tensor magnitude(AdaptedLinear layer) {
        if (!dora) throw new IllegalStateException("adapter '" + name + "' is LoRA, not DoRA: it has no magnitude vector");
        return layer.container(MAGNITUDE).<Module>child(name).parameter("weight");
    }

    @Override
    public Tensor transformOutput(Tensor x, Tensor out, AdaptedLinear layer) {
        if (unmergedWeight != null) return out; // already folded into the base weight
        // the wrapped layer carries the model's mode even when the wrapper was created after trainMode()
        Tensor dropped = Dropout.apply(x, dropout, layer.context().dropoutRng(rng), layer.base().isTraining());
        Tensor h = org.peft4j.ops.Linear.linear(dropped, loraA(layer), null);
        if (!gated && scaling != 1) h = Elementwise.scale(h, scaling);
        Tensor update = org.peft4j.ops.Linear.linear(h, loraB(layer), null);
        if (gated) return Elementwise.add(out, Elementwise.mul(update, gate(x, layer)));
        if (!dora) return Elementwise.add(out, update);
        Linear base = layer.base();
        Tensor factor = Elementwise.div(magnitude(layer), weightNorm(base.weightOutIn(), layer));
        Tensor direction;
        if (dropped == x) {
            direction = base.bias() == null ? out : Elementwise.sub(out, base.bias());
        } else {
            direction = org.peft4j.ops.Linear.linear(dropped, base.weightOutIn(), null);
        }
        Tensor rescaled = Elementwise.mul(direction, Elementwise.addScalar(factor, -1));
        return Elementwise.add(out, Elementwise.add(rescaled, Elementwise.mul(update, factor)));
    }

    /** AdapterHub's gate: sigmoid(gate(x)) averaged over dimension 1 (the sequence), kept for broadcasting. */
    private Tensor gate(Tensor x, AdaptedLinear layer) {
        Tensor g = Activations.sigmoid(layer.container(GATE).<Linear>child(name).forward(x));
        return x.dim() >= 3 ? Reductions.mean(g, 1, true) : g;
    }

    /** The row norms ‖weight + s·B·A‖ [out] of a [out, in] weight, outside the graph. */
    Tensor weightNorm(Tensor weightOutIn, AdaptedLinear layer) {
        try (var s = GradMode.noGrad()) {
            Tensor sum = Elementwise.add(weightOutIn, loraDelta(layer));
            return Elementwise.sqrt(Reductions.sum(Elementwise.square(sum), 1, false)).detach();
        }
    }

    /** s·B·A as [out, in], outside the graph. */
    public Tensor loraDelta(AdaptedLinear layer) {
        try (var s = GradMode.noGrad()) {
            return Elementwise.scale(MatMul.matmul(loraB(layer).detach(), loraA(layer).detach()), scaling).detach();
        }
    }

    /**
     * The change to the [out, in] base weight: s·B·A for LoRA, m/‖W + s·B·A‖·(W + s·B·A) − W for DoRA;
     * null when gated (the gate depends on the input, so it cannot be merged).
     */
    @Override
    public Tensor deltaWeight(AdaptedLinear layer) {
        if (gated) return null;
        if (!dora) return loraDelta(layer);
        try (var s = GradMode.noGrad()) {
            Tensor w = layer.base().weightOutIn();
            Tensor merged = merge(w.detachedCopy(w.computeType()), layer);
            return Elementwise.sub(merged, w).detach();
        }
    }

    /** Folds the adapter into {@code weight} [out, in] in place (DoRA: PEFT's merge rule on that weight). */
    @Override
    public Tensor merge(Tensor weight, AdaptedLinear layer) {
        if (gated) throw new UnsupportedOperationException("adapter '" + name + "' is gated: a gated LoRA cannot be merged");
        try (var s = GradMode.noGrad()) {
            Tensor sum = Elementwise.add(weight, loraDelta(layer));
            if (!dora) {
                weight.copyFrom(sum);
                return weight;
            }
            Tensor norm = Elementwise.sqrt(Reductions.sum(Elementwise.square(sum), 1, false));
            Tensor factor = Elementwise.div(magnitude(layer).detach(), norm);
            weight.copyFrom(Elementwise.mul(sum, factor.reshape(factor.size(0), 1)));
            return weight;
        }
    }

    boolean isMerged() { return unmergedWeight != null; }

    Tensor unmergedWeight() { return unmergedWeight; }

    void markMerged(Tensor original) { unmergedWeight = original; }
}
