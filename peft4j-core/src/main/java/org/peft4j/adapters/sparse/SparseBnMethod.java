package org.peft4j.adapters.sparse;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.formats.Peft4jFormatSupport;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * {@code sparse_bn}: a bottleneck adapter ({@link SparseBnConfig#base}) built and initialised exactly as
 * that preset, whose two projections are then {@link SparseLinear}s pruned together to the configured
 * density (random and magnitude at installation; SNIP later through {@link SparseAdapters#snip}). The
 * adapter sits at the same {@link BottleneckSite}s under the same names as its base, so every
 * composition block runs it unchanged.
 *
 * <p>Tree tensors: {@code adapter_down.0.weight_values} / {@code adapter_up.weight_values} (the kept
 * weights) instead of the dense {@code weight}, biases and the base's other parts as usual. Saved in
 * peft4j's format each projection adds its pattern, {@code weight_indices} (I32 positions row·in + col,
 * ascending) or, when smaller, {@code weight_mask} (U8, one bit per position, little-endian bit order).
 */
public final class SparseBnMethod implements AdapterMethod, Peft4jFormatSupport {
    /** The file tensor holding a projection's kept positions as I32 flat indices. */
    public static final String INDICES = "weight_indices";
    /** The file tensor holding a projection's kept positions as a packed U8 bit mask. */
    public static final String MASK = "weight_mask";

    @Override
    public String name() { return SparseBnConfig.METHOD; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return SparseBnConfig.read(args); }

    @Override
    public MethodConfig fromJson(JsonNode json) {
        ConfigArgs args = ConfigArgs.fromJson(name(), json);
        MethodConfig c = parse(args);
        args.finish();
        return c;
    }

    private SparseBnConfig cast(MethodConfig c) {
        if (c instanceof SparseBnConfig s) return s;
        throw new IllegalArgumentException(name() + " cannot install a " + c.method() + " config");
    }

    // ------------------------------------------------------------------ installation

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        SparseBnConfig c = cast(config);
        BottleneckConfig b = c.base();
        ModelConfig mc = model.config();
        int hidden = mc.hiddenSize();
        checkSizes(c, mc);
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!b.coversLayer(layer)) continue;
            for (Location loc : b.locations()) {
                PeftModel.SiteRef ref = model.siteRef(layer, loc);
                if (!ref.owner().hasChild(ref.childName())) continue;
                Module existing = ref.owner().child(ref.childName());
                String where = BottleneckSite.path(mc, layer, loc);
                if (!(existing instanceof BottleneckSite site)) throw new IllegalStateException(name() + ": " + where + " holds a site of another kind");
                if (site.has(adapterName)) throw new IllegalStateException(name() + ": adapter '" + adapterName + "' already sits at " + where);
            }
        }
        RandomGenerator rng = new SplittableRandom(b.initWeightsSeed() != null ? b.initWeightsSeed() : seed);
        List<SparseLinear> projections = new ArrayList<>();
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!b.coversLayer(layer)) continue;
            int m = c.bottleneckSize(hidden, layer);
            for (Location loc : b.locations()) {
                final int l = layer;
                BottleneckAdapter adapter = BottleneckAdapter.create(b, hidden, m, null, rng);
                sparsify(adapter, c.topK().k(m), projections);
                model.site(l, loc, () -> new BottleneckSite(model.context(), l, loc)).add(adapterName, adapter);
            }
        }
        switch (c.sparsityMethod()) {
            case RANDOM -> SparseAdapters.prune(projections, c.density(), SparseAdapters.randomScores(projections, rng), rng);
            case MAGNITUDE -> SparseAdapters.prune(projections, c.density(), SparseAdapters.magnitudeScores(projections), rng);
            case SNIP -> { } // scores need training batches: SparseAdapters.snip prunes
        }
        return List.of();
    }

    /** Replaces the adapter's dense projections by sparse ones holding the same initial weights (all kept). */
    private static void sparsify(BottleneckAdapter adapter, int topK, List<SparseLinear> projections) {
        Linear down = (Linear) adapter.down(), up = (Linear) adapter.up();
        SparseLinear sparseDown = SparseLinear.ofDense(down.weight(), down.bias(), 0);
        SparseLinear sparseUp = SparseLinear.ofDense(up.weight(), up.bias(), topK);
        adapter.child("adapter_down").registerModule(adapter.config().lnBefore() ? "1" : "0", sparseDown);
        adapter.registerModule("adapter_up", sparseUp);
        projections.add(sparseDown);
        projections.add(sparseUp);
    }

    /** Rejects, before anything is built, a reduction-factor map missing a layer and a top-k count above a bottleneck. */
    private void checkSizes(SparseBnConfig c, ModelConfig mc) {
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!c.base().coversLayer(layer)) continue;
            try {
                c.topK().k(c.bottleneckSize(mc.hiddenSize(), layer));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name() + " at layer " + layer + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * The trainable tensors: the base's, with each projection's dense weight replaced by its kept values.
     * Pruning is global, so how the kept weights split between matrices is known only once they are scored;
     * the shapes here split round(density · N) in proportion to each matrix's size (largest remainders
     * first), so the total is exact and each matrix's share is its expected one.
     */
    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        SparseBnConfig c = cast(config);
        BottleneckConfig b = c.base();
        ModelConfig mc = model.config();
        checkSizes(c, mc);
        int d = mc.hiddenSize();
        Map<String, int[]> out = new LinkedHashMap<>();
        List<String> weightNames = new ArrayList<>();
        List<Long> weightSizes = new ArrayList<>();
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!b.coversLayer(layer)) continue;
            int m = c.bottleneckSize(d, layer);
            for (Location loc : b.locations()) {
                String p = BottleneckSite.path(mc, layer, loc) + "." + adapterName + ".";
                if (b.lnBefore()) {
                    out.put(p + "adapter_down.0.weight", new int[] {d});
                    out.put(p + "adapter_down.0.bias", new int[] {d});
                }
                String down = p + "adapter_down." + (b.lnBefore() ? "1" : "0") + ".";
                out.put(down + SparseLinear.VALUES, null);
                weightNames.add(down + SparseLinear.VALUES);
                weightSizes.add((long) d * m);
                out.put(down + "bias", new int[] {m});
                out.put(p + "adapter_up." + SparseLinear.VALUES, null);
                weightNames.add(p + "adapter_up." + SparseLinear.VALUES);
                weightSizes.add((long) m * d);
                out.put(p + "adapter_up.bias", new int[] {d});
                int[] scaling = b.scaling().parameterShape(d);
                if (scaling != null) out.put(p + "scaling", scaling);
                if (b.lnAfter()) {
                    out.put(p + "adapter_norm_after.weight", new int[] {d});
                    out.put(p + "adapter_norm_after.bias", new int[] {d});
                }
                if (b.useGating()) {
                    out.put(p + "gate.weight", new int[] {1, d});
                    out.put(p + "gate.bias", new int[] {1});
                }
            }
        }
        long[] kept = apportion(weightSizes, c.density());
        for (int i = 0; i < kept.length; i++) out.put(weightNames.get(i), new int[] {Math.toIntExact(kept[i])});
        return out;
    }

    /** Splits round(density · Σ sizes) over the sizes in proportion, by largest remainder (earlier first on ties). */
    static long[] apportion(List<Long> sizes, double density) {
        long total = 0;
        for (long s : sizes) total += s;
        long target = Math.round(density * total), given = 0;
        long[] out = new long[sizes.size()];
        double[] remainder = new double[sizes.size()];
        for (int i = 0; i < out.length; i++) {
            double exact = density * sizes.get(i);
            out[i] = (long) Math.floor(exact);
            remainder[i] = exact - out[i];
            given += out[i];
        }
        for (long left = target - given; left > 0; left--) {
            int best = 0;
            for (int i = 1; i < out.length; i++) if (remainder[i] > remainder[best]) best = i;
            out[best]++;
            remainder[best] = -1;
        }
        return out;
    }

    // ------------------------------------------------------------------ peft4j files

    @Override
    public Map<String, Tensor> toFileTensors(PeftModel model, String adapterName, MethodConfig config, Map<String, Tensor> tensors)
            throws IOException {
        SparseBnConfig c = cast(config);
        Map<String, SparseLinear> layers = SparseAdapters.layers(model, adapterName);
        long kept = 0, dense = 0;
        for (SparseLinear l : layers.values()) {
            kept += l.pattern().nnz();
            dense += (long) l.outFeatures() * l.inFeatures();
        }
        if (kept != Math.round(c.density() * dense)) {
            throw new IOException("adapter '" + adapterName + "' keeps " + kept + " of " + dense + " weights, not density " + c.density()
                    + (c.sparsityMethod() == SparsityMethod.SNIP ? ": prune it with SparseAdapters.snip before saving" : ""));
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            out.put(e.getKey(), e.getValue());
            String key = e.getKey();
            if (!key.endsWith("." + SparseLinear.VALUES)) continue;
            String path = key.substring(0, key.length() - SparseLinear.VALUES.length() - 1);
            SparseLinear l = layers.get(path);
            if (l == null) continue;
            SparsePattern p = l.pattern();
            if ((long) p.nnz() * Integer.BYTES < SparsePattern.packedLength(p.rows() * p.cols())) {
                out.put(path + "." + INDICES, Tensor.wrap(MemorySegment.ofArray(p.flatIndices()), DType.I32, p.nnz()));
            } else {
                byte[] mask = p.packedMask();
                out.put(path + "." + MASK, Tensor.wrap(MemorySegment.ofArray(mask), DType.U8, mask.length));
            }
        }
        return out;
    }

    @Override
    public Map<String, Tensor> fromFileTensors(PeftModel model, String adapterName, MethodConfig config, Map<String, Tensor> fileTensors)
            throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>(fileTensors);
        for (Map.Entry<String, SparseLinear> e : SparseAdapters.layers(model, adapterName).entrySet()) {
            String path = e.getKey();
            SparseLinear l = e.getValue();
            Tensor indices = out.remove(path + "." + INDICES), mask = out.remove(path + "." + MASK);
            if ((indices == null) == (mask == null)) {
                throw new IOException(path + ": the file must give exactly one of " + INDICES + " and " + MASK + " (it gives "
                        + (indices == null ? "neither" : "both") + ")");
            }
            try {
                l.setPattern(indices != null ? patternOfIndices(l, indices) : patternOfMask(l, mask));
            } catch (IllegalArgumentException ex) {
                throw new IOException(path + ": " + ex.getMessage(), ex);
            }
        }
        return out;
    }

    private static SparsePattern patternOfIndices(SparseLinear l, Tensor indices) {
        if ((indices.dtype() != DType.I32 && indices.dtype() != DType.I64) || indices.dim() != 1) {
            throw new IllegalArgumentException(INDICES + " must be 1-D I32 or I64, got " + indices.dtype() + " " + java.util.Arrays.toString(indices.shape()));
        }
        long[] v = indices.toLongArray();
        int[] flat = new int[v.length];
        long n = (long) l.outFeatures() * l.inFeatures();
        for (int j = 0; j < v.length; j++) {
            if (v[j] < 0 || v[j] >= n) throw new IllegalArgumentException(INDICES + " entry " + j + " = " + v[j] + " is outside " + n + " positions");
            flat[j] = (int) v[j];
        }
        return SparsePattern.ofFlatIndices(l.outFeatures(), l.inFeatures(), flat);
    }

    private static SparsePattern patternOfMask(SparseLinear l, Tensor mask) {
        if (mask.dtype() != DType.U8 || mask.dim() != 1) {
            throw new IllegalArgumentException(MASK + " must be 1-D U8, got " + mask.dtype() + " " + java.util.Arrays.toString(mask.shape()));
        }
        byte[] bytes = new byte[mask.size(0)];
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) mask.getFlat(i);
        return SparsePattern.ofPackedMask(l.outFeatures(), l.inFeatures(), bytes);
    }
}
