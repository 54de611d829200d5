package org.peft4j.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.peft4j.autograd.GradMode;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Autoregressive decoding with a KV cache: the prompt once, then one token per step. */
public final class Generator {
    private Generator() {}

    /** Continues {@code prompt}; returns prompt + generated ids, stopping after an end-of-sequence id. */
    public static long[] generate(CausalLm model, long[] prompt, GenerationConfig g) {
        if (prompt.length == 0) throw new IllegalArgumentException("generation needs a non-empty prompt");
        SplittableRandom rng = new SplittableRandom(g.seed());
        List<Long> out = new ArrayList<>();
        for (long id : prompt) out.add(id);
        try (var s = GradMode.noGrad()) {
            KvCache cache = new KvCache(model.numLayers());
            Tensor ids = Tensor.of(prompt.clone(), 1, prompt.length);
            for (int step = 0; step < g.maxNewTokens(); step++) {
                Tensor logits = model.forward(ids, Tensor.full(DType.I64, 1, 1, ids.size(1)), cache, null);
                float[] last = logits.narrow(1, logits.size(1) - 1, 1).contiguous().toFloatArray();
                long next = g.isGreedy() ? argmax(last) : sample(last, g, rng);
                out.add(next);
                if (g.eosTokenIds().contains((int) next)) break;
                ids = Tensor.of(new long[] {next}, 1, 1);
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** First index of the maximum (as torch.argmax). */
    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** Temperature, then top-k, then top-p over the sorted probabilities, then one draw. */
    static int sample(float[] logits, GenerationConfig g, SplittableRandom rng) {
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = g.topK() > 0 ? Math.min(g.topK(), n) : n;
        double max = logits[order[0]] / g.temperature();
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp(logits[order[i]] / g.temperature() - max);
            sum += p[i];
        }
        // Nucleus: the smallest prefix whose mass reaches topP (always at least one token).
        double cumulative = 0;
        int nucleus = keep;
        for (int i = 0; i < keep; i++) {
            cumulative += p[i] / sum;
            if (cumulative >= g.topP()) {
                nucleus = i + 1;
                break;
            }
        }
        double mass = 0;
        for (int i = 0; i < nucleus; i++) mass += p[i];
        double r = rng.nextDouble() * mass;
        for (int i = 0; i < nucleus; i++) {
            r -= p[i];
            if (r <= 0) return order[i];
        }
        return order[nucleus - 1];
    }
}
