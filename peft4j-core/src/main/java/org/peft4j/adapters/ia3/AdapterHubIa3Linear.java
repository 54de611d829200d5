package org.peft4j.adapters.ia3;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.LinearAdapter;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * AdapterHub's (IA)³ on one linear layer: {@code base(x) ⊙ (alpha · v)}, v from {@code loras.<name>.lora_B}.
 * On GPT-2's fused q/k/v projection v covers only the enabled thirds (in q, k, v order); the others are
 * padded with ones before the alpha scaling, exactly as AdapterHub does (so with alpha ≠ 1 they are scaled
 * by alpha too).
 */
public final class AdapterHubIa3Linear implements LinearAdapter {
    public static final String CONTAINER = "loras";
    public static final String TENSOR = "lora_B";

    private final String name;
    private final double alpha;
    /** For a fused q/k/v layer, which thirds the vector covers; null for an ordinary layer. */
    private final boolean[] fusedThirds;

    public AdapterHubIa3Linear(String name, double alpha, boolean[] fusedThirds) {
        this.name = name;
        this.alpha = alpha;
        this.fusedThirds = fusedThirds == null ? null : fusedThirds.clone();
    }

    private Tensor vector(AdaptedLinear layer) {
        Tensor v = null;
        if (layer.hasChild(CONTAINER) && layer.child(CONTAINER).hasChild(name)) v = layer.child(CONTAINER).child(name).parameter(TENSOR);
        if (v == null) throw new IllegalStateException("adapter '" + name + "' has no " + CONTAINER + "." + name + "." + TENSOR + " on this layer");
        return v;
    }

    /** alpha · v over all output features [out]. */
    private Tensor scale(AdaptedLinear layer) {
        Tensor v = vector(layer);
        Tensor flat = v.reshape((int) v.numel());
        if (fusedThirds != null) {
            int third = layer.outFeatures() / 3;
            List<Tensor> parts = new ArrayList<>();
            for (int i = 0, at = 0; i < 3; i++) {
                if (fusedThirds[i]) {
                    parts.add(flat.narrow(0, at, third));
                    at += third;
                } else {
                    parts.add(Tensor.full(flat.dtype(), 1.0, third));
                }
            }
            flat = Shapes.concat(0, parts);
        }
        return Elementwise.scale(flat, alpha);
    }

    @Override
    public Tensor transformOutput(Tensor x, Tensor out, AdaptedLinear layer) {
        return Elementwise.mul(out, scale(layer));
    }

    /** Not additive: see {@link #merge}. */
    @Override
    public Tensor deltaWeight(AdaptedLinear layer) { return null; }

    /** Scales the rows of W [out, in]. */
    @Override
    public Tensor merge(Tensor weight, AdaptedLinear layer) {
        return Elementwise.mul(weight, scale(layer).detach().reshape(layer.outFeatures(), 1));
    }

    /** Scales the bias like the output, so the merged layer computes what the adapted one did. */
    @Override
    public Tensor mergeBias(Tensor bias, AdaptedLinear layer) {
        return bias == null ? null : Elementwise.mul(bias, scale(layer).detach());
    }
}
