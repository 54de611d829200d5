package org.peft4j.adapters.lokr;

import java.util.List;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.loha.LycorisLinear;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Kron;
import org.peft4j.ops.Linear;
import org.peft4j.ops.MatMul;
import org.peft4j.tensor.Tensor;

/**
 * LoKr on one linear layer: {@code ΔW = kron(w1, w2) · scaling} with w1 [L, M] ({@code lokr_w1}, or
 * {@code lokr_w1_a · lokr_w1_b}) and w2 [K, N] ({@code lokr_w2}, or {@code lokr_w2_a · lokr_w2_b}), out = L·K,
 * in = M·N.
 *
 * <p>The forward never builds ΔW: viewing an input row as X [M, N], {@code ΔW·x} is {@code w1 · X · w2ᵀ}
 * read as [L, K], which costs (in·K + out·M) per row instead of in·out.
 */
public final class LokrLinear extends LycorisLinear {
    public static final List<String> CONTAINERS = List.of("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b");

    private final boolean fullW1;
    private final boolean fullW2;

    public LokrLinear(String name, double scaling, boolean fullW1, boolean fullW2, double rankDropout, boolean rescaleRanks,
            double moduleDropout, long seed) {
        super(name, scaling, rankDropout, rescaleRanks, moduleDropout, seed);
        this.fullW1 = fullW1;
        this.fullW2 = fullW2;
    }

    private Tensor w1(AdaptedLinear layer) {
        return fullW1 ? tensor(layer, "lokr_w1") : MatMul.matmul(tensor(layer, "lokr_w1_a"), tensor(layer, "lokr_w1_b"));
    }

    private Tensor w2(AdaptedLinear layer) {
        return fullW2 ? tensor(layer, "lokr_w2") : MatMul.matmul(tensor(layer, "lokr_w2_a"), tensor(layer, "lokr_w2_b"));
    }

    @Override
    protected Tensor update(Tensor x, AdaptedLinear layer) {
        Tensor w1 = Elementwise.scale(w1(layer), scaling), w2 = w2(layer);
        int l = w1.size(0), m = w1.size(1), k = w2.size(0), n = w2.size(1);
        int[] shape = x.shape();
        int rows = Math.toIntExact(x.numel() / ((long) m * n));
        Tensor xw2 = Linear.linear(x.reshape(rows, m, n), w2, null);           // [rows, M, K]
        Tensor y = Linear.linear(xw2.transpose(1, 2), w1, null);               // [rows, K, L]
        shape[shape.length - 1] = l * k;
        return y.transpose(1, 2).reshape(shape);                                // [..., L·K]
    }

    @Override
    public Tensor deltaWeight(AdaptedLinear layer) {
        return Elementwise.scale(Kron.kron(w1(layer), w2(layer)), scaling);
    }
}
