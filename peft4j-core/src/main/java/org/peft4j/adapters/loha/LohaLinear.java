package org.peft4j.adapters.loha;

import java.util.List;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Linear;
import org.peft4j.ops.MatMul;
import org.peft4j.tensor.Tensor;

/**
 * LoHa on one linear layer: {@code ΔW = (w1_a·w1_b) ⊙ (w2_a·w2_b) · scaling} with w1_a [out, r1], w1_b [r1, in],
 * w2_a [out, r2], w2_b [r2, in], in PEFT's containers {@code hada_w1_a.<name>}...
 *
 * <p>The Hadamard product of two rank-r factorisations is itself a product of rank r1·r2:
 * {@code ΔW = U·V} with U[o, i·r2+j] = w1_a[o,i]·w2_a[o,j] and V[i·r2+j, c] = w1_b[i,c]·w2_b[j,c]. When
 * r1·r2·(in + out) is below in·out the forward applies V then U to the input instead of building ΔW.
 */
public final class LohaLinear extends LycorisLinear {
    public static final List<String> CONTAINERS = List.of("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b");

    public LohaLinear(String name, double scaling, double rankDropout, double moduleDropout, long seed) {
        // PEFT's LoHa always rescales the rows kept by rank dropout.
        super(name, scaling, rankDropout, true, moduleDropout, seed);
    }

    @Override
    protected Tensor update(Tensor x, AdaptedLinear layer) {
        Tensor w1a = tensor(layer, "hada_w1_a"), w1b = tensor(layer, "hada_w1_b");
        Tensor w2a = tensor(layer, "hada_w2_a"), w2b = tensor(layer, "hada_w2_b");
        int out = w1a.size(0), in = w1b.size(1), r1 = w1a.size(1), r2 = w2a.size(1);
        if ((long) r1 * r2 * (in + out) >= (long) in * out) return Linear.linear(x, deltaWeight(layer), null);
        Tensor u = Elementwise.mul(w1a.reshape(out, r1, 1), w2a.reshape(out, 1, r2)).reshape(out, r1 * r2);
        Tensor v = Elementwise.mul(w1b.reshape(r1, 1, in), w2b.reshape(1, r2, in)).reshape(r1 * r2, in);
        return Linear.linear(Linear.linear(x, Elementwise.scale(v, scaling), null), u, null);
    }

    @Override
    public Tensor deltaWeight(AdaptedLinear layer) {
        Tensor w1 = MatMul.matmul(tensor(layer, "hada_w1_a"), tensor(layer, "hada_w1_b"));
        Tensor w2 = MatMul.matmul(tensor(layer, "hada_w2_a"), tensor(layer, "hada_w2_b"));
        return Elementwise.scale(Elementwise.mul(w1, w2), scaling);
    }
}
