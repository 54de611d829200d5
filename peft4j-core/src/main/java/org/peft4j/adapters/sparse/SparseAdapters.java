package org.peft4j.adapters.sparse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * Working with installed sparse adapters: their projections, their kept-weight counts, and SNIP pruning
 * from training losses. Pruning is global: the {@code round(density · N)} best-scoring weights of all N
 * projection weights of the adapter (every layer, both projections) are kept, so some matrices end up
 * denser than others. Scores that tie at the threshold are drawn at random (seeded), so that a block
 * of equal scores (a zero-initialised projection under magnitude or SNIP) is thinned evenly.
 */
public final class SparseAdapters {
    private SparseAdapters() {}

    /**
     * The sparse projections of adapter {@code name} by dotted path ({@code encoder.layer.0.output.adapters.a.adapter_up}),
     * in model order, each site's down projection before its up projection.
     */
    public static Map<String, SparseLinear> layers(PeftModel model, String name) {
        model.adapter(name);
        Map<String, SparseLinear> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : model.base().namedModules().entrySet()) {
            if (!(e.getValue() instanceof BottleneckSite site) || !site.has(name)) continue;
            BottleneckAdapter a = site.adapter(name);
            String prefix = e.getKey() + "." + name + ".";
            String downName = a.config().lnBefore() ? "1" : "0";
            if (a.down() instanceof SparseLinear d) out.put(prefix + "adapter_down." + downName, d);
            if (a.up() instanceof SparseLinear u) out.put(prefix + "adapter_up", u);
        }
        return out;
    }

    /** The number of projection weights adapter {@code name} keeps. */
    public static long keptWeights(PeftModel model, String name) {
        long n = 0;
        for (SparseLinear l : layers(model, name).values()) n += l.pattern().nnz();
        return n;
    }

    /** The number of projection weights adapter {@code name} would have dense. */
    public static long denseWeights(PeftModel model, String name) {
        long n = 0;
        for (SparseLinear l : layers(model, name).values()) n += (long) l.outFeatures() * l.inFeatures();
        return n;
    }

    /** {@link #snip(PeftModel, String, Iterable, long)} with seed 0. */
    public static void snip(PeftModel model, String name, Iterable<? extends Supplier<Tensor>> losses) {
        snip(model, name, losses, 0);
    }

    /**
     * Prunes adapter {@code name} (a {@code sparse_bn} adapter, normally with {@code sparsity_method=snip},
     * not yet pruned) to its configured density by SNIP: each kept weight's score is |w · Σ_b ∂L_b/∂w| over
     * the losses, each supplier running one training batch through the model with the adapter active and
     * returning its scalar loss. Only this adapter's weights take gradients meanwhile; every tensor's
     * trainable flag is restored afterwards and no gradient is left behind. The adapter's value tensors are
     * replaced: create the optimiser after this call.
     *
     * @throws IllegalArgumentException without losses, or when no gradient reaches the adapter (not active)
     */
    public static void snip(PeftModel model, String name, Iterable<? extends Supplier<Tensor>> losses, long seed) {
        SparseBnConfig config = config(model, name);
        List<SparseLinear> layers = new ArrayList<>(layers(model, name).values());
        Map<Tensor, Boolean> trainable = new IdentityHashMap<>();
        for (Tensor t : model.namedParameters().values()) trainable.put(t, t.requiresGrad());
        List<double[]> scores = new ArrayList<>();
        try {
            trainable.keySet().forEach(t -> {
                if (t.isLeaf()) t.requiresGrad(false);
            });
            for (SparseLinear l : layers) l.values().zeroGrad();
            for (SparseLinear l : layers) l.values().requiresGrad(true);
            int batches = 0;
            for (Supplier<Tensor> loss : losses) {
                Tensor l = loss.get();
                if (!l.requiresGrad()) throw notReached(name);
                l.backward();
                batches++;
            }
            if (batches == 0) throw new IllegalArgumentException("SNIP on adapter '" + name + "' needs at least one loss");
            boolean reached = false;
            for (SparseLinear l : layers) {
                double[] w = l.values().doubles(), s = new double[w.length];
                Tensor g = l.values().grad();
                if (g != null) {
                    reached = true;
                    for (int j = 0; j < w.length; j++) s[j] = Math.abs(w[j] * g.getFlat(j));
                }
                scores.add(s);
            }
            if (!reached) throw notReached(name);
        } finally {
            for (SparseLinear l : layers) l.values().zeroGrad();
            trainable.forEach((t, flag) -> {
                if (t.isLeaf()) t.requiresGrad(flag);
            });
        }
        prune(layers, config.density(), scores, new SplittableRandom(seed));
    }

    private static IllegalArgumentException notReached(String name) {
        return new IllegalArgumentException("no gradient reached adapter '" + name + "': activate it before SNIP");
    }

    /** The adapter's sparse_bn config. */
    static SparseBnConfig config(PeftModel model, String name) {
        for (MethodConfig c : model.adapter(name).configs()) if (c instanceof SparseBnConfig s) return s;
        throw new IllegalArgumentException("adapter '" + name + "' is not a " + SparseBnConfig.METHOD + " adapter");
    }

    /** Magnitude scores |w| of each layer's kept weights. */
    static List<double[]> magnitudeScores(List<SparseLinear> layers) {
        List<double[]> out = new ArrayList<>();
        for (SparseLinear l : layers) {
            double[] s = l.values().doubles().clone();
            for (int j = 0; j < s.length; j++) s[j] = Math.abs(s[j]);
            out.add(s);
        }
        return out;
    }

    /** Uniform random scores for each layer's kept weights. */
    static List<double[]> randomScores(List<SparseLinear> layers, RandomGenerator rng) {
        List<double[]> out = new ArrayList<>();
        for (SparseLinear l : layers) {
            double[] s = new double[l.pattern().nnz()];
            for (int j = 0; j < s.length; j++) s[j] = rng.nextDouble();
            out.add(s);
        }
        return out;
    }

    /**
     * Keeps, among the layers' current weights, the round(density · N) with the highest scores, N being
     * the layers' dense weight count; ties at the threshold are drawn with {@code rng}.
     */
    static void prune(List<SparseLinear> layers, double density, List<double[]> scores, RandomGenerator rng) {
        long dense = 0;
        int candidates = 0;
        for (SparseLinear l : layers) {
            dense += (long) l.outFeatures() * l.inFeatures();
            candidates += l.pattern().nnz();
        }
        long keep = Math.round(density * dense);
        if (keep < 1) throw new IllegalArgumentException("density " + density + " of " + dense + " weights keeps none");
        if (keep > candidates) {
            throw new IllegalArgumentException("density " + density + " keeps " + keep + " weights but only " + candidates + " remain");
        }
        double[] all = new double[candidates];
        int pos = 0;
        for (double[] s : scores) {
            for (double v : s) {
                if (Double.isNaN(v)) throw new IllegalArgumentException("a pruning score is NaN (a NaN weight or gradient)");
                all[pos++] = v;
            }
        }
        boolean[] kept = select(all, (int) keep, rng);
        pos = 0;
        for (SparseLinear l : layers) {
            SparsePattern p = l.pattern();
            boolean[] mask = new boolean[p.rows() * p.cols()];
            for (int flat : p.flatIndices()) mask[flat] = kept[pos++];
            l.setPattern(SparsePattern.ofMask(p.rows(), p.cols(), mask));
        }
    }

    /** Marks exactly {@code keep} entries: every score above the keep-th largest, then ties drawn at random. */
    static boolean[] select(double[] scores, int keep, RandomGenerator rng) {
        double[] sorted = scores.clone();
        Arrays.parallelSort(sorted);
        double threshold = sorted[scores.length - keep];
        boolean[] kept = new boolean[scores.length];
        int above = 0, ties = 0;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] > threshold) {
                kept[i] = true;
                above++;
            } else if (scores[i] == threshold) {
                ties++;
            }
        }
        int[] tied = new int[ties];
        for (int i = 0, t = 0; i < scores.length; i++) if (scores[i] == threshold) tied[t++] = i;
        // a partial Fisher–Yates shuffle draws the tied entries that fill the remaining places
        for (int t = 0, need = keep - above; t < need; t++) {
            int r = t + rng.nextInt(ties - t);
            int chosen = tied[r];
            tied[r] = tied[t];
            tied[t] = chosen;
            kept[chosen] = true;
        }
        return kept;
    }
}
