package org.peft4j.adapters.bottleneck;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.RowGroups;
import org.peft4j.adapters.composition.Average;
import org.peft4j.adapters.composition.BatchSplit;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.composition.Parallel;
import org.peft4j.adapters.composition.Single;
import org.peft4j.adapters.composition.Stack;
import org.peft4j.adapters.fusion.FusionLayer;
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * The bottleneck adapters of one sublayer (AdapterHub's {@code BottleneckLayer}): one
 * {@link BottleneckAdapter} child per adapter name, run as the model's active composition says.
 *
 * <p>A forward builds a {@link BottleneckState} (hidden = h, residual = x), runs the composition through
 * {@link #compose}, which dispatches to one method per block, and lets the last adapter that ran finish the
 * sublayer ({@link BottleneckAdapter#postForward}). A single active adapter runs as AdapterHub's
 * {@code Stack(name)}: its pre-forward, then its bottleneck. Blocks that split or copy the batch slice
 * the state with {@link BottleneckState#rows} and join it with {@link BottleneckState#concatRows}.
 * With no adapter of this site active, or the layer dropped by AdapterDrop, the sublayer is unchanged.
 * A mixed batch (per-row adapter names in the context, PEFT's {@code adapter_names}) runs each group of
 * rows with its own adapter alone.
 *
 * <p>AdapterFusion layers sit beside the adapters under {@code adapter_fusion_layer.<a,b,c>} (the fused
 * adapter names joined by commas, as AdapterHub keys them).
 */
public class BottleneckSite extends AdapterSite {
    /** The child that holds the fusion layers, keyed by the fused adapter names joined with commas. */
    public static final String FUSION_LAYERS = "adapter_fusion_layer";

    private final AdapterContext context;
    private final int layer;
    private final Location location;

    public BottleneckSite(AdapterContext context, int layer, Location location) {
        this.context = context;
        this.layer = layer;
        this.location = location;
    }

    /**
     * The dotted path of the site for (layer, location) in a model of this config, where
     * {@code PeftModel.site} installs it: BERT {@code encoder.layer.i[.attention].output.adapters},
     * GPT-2 {@code transformer.h.i.<attention|output>_adapters}, Llama {@code model.layers.i.<attention|output>_adapters}.
     */
    public static String path(ModelConfig config, int layer, Location location) {
        boolean attn = location == Location.ATTENTION;
        return switch (config.architecture()) {
            case BERT -> "encoder.layer." + layer + (attn ? ".attention.output" : ".output") + ".adapters";
            case GPT2 -> "transformer.h." + layer + (attn ? ".attention_adapters" : ".output_adapters");
            case LLAMA -> "model.layers." + layer + (attn ? ".attention_adapters" : ".output_adapters");
        };
    }

    public AdapterContext context() { return context; }

    public int layer() { return layer; }

    public Location location() { return location; }

    /** Adds an adapter under its name. */
    public void add(String name, BottleneckAdapter adapter) {
        if (hasChild(name)) throw new IllegalArgumentException("adapter '" + name + "' already sits at layer " + layer + " " + location);
        registerModule(name, adapter);
    }

    /** Whether an adapter of this name sits here (other children, such as fusion layers, are not adapters). */
    public boolean has(String name) { return hasChild(name) && child(name) instanceof BottleneckAdapter; }

    public BottleneckAdapter adapter(String name) { return child(name); }

    /** The fusion layer over the adapters {@code key} ({@code "a,b,c"}), or null. */
    public FusionLayer fusionLayer(String key) {
        if (!hasChild(FUSION_LAYERS)) return null;
        ModuleDict layers = child(FUSION_LAYERS);
        return layers.hasChild(key) ? layers.child(key) : null;
    }

    /** Adds a fusion layer over the adapters {@code key}; one already there is an error. */
    public void addFusionLayer(String key, FusionLayer fusion) {
        if (fusionLayer(key) != null) throw new IllegalArgumentException("a fusion layer over " + key + " already sits at layer " + layer + " " + location);
        if (!hasChild(FUSION_LAYERS)) registerModule(FUSION_LAYERS, new ModuleDict());
        this.<ModuleDict>child(FUSION_LAYERS).registerModule(key, fusion);
    }

    /** Removes the fusion layer over {@code key} if present (and the container once empty). */
    public void removeFusionLayer(String key) {
        if (fusionLayer(key) == null) return;
        ModuleDict layers = child(FUSION_LAYERS);
        layers.removeChild(key);
        if (layers.children().isEmpty()) removeChild(FUSION_LAYERS);
    }

    @Override
    public Tensor apply(Tensor h, Tensor x, LayerNorm ln, ForwardState pass) {
        if (!context.layerActive(layer)) return run(null, h, x, ln, pass);
        List<String> rows = context.rowAdapters();
        if (rows == null) return run(context.active(), h, x, ln, pass);
        // A mixed batch: rows grouped by adapter name; h and x travel together, side by side.
        int d = h.size(-1);
        Tensor hx = Shapes.concat(h.dim() - 1, h, x);
        return RowGroups.apply(hx, rows, name -> t -> run(has(name) ? new Single(name) : null, t.narrow(-1, 0, d), t.narrow(-1, d, d), ln, pass));
    }

    /** The sublayer's output with {@code setup} (null: none) run on it. */
    private Tensor run(Composition setup, Tensor h, Tensor x, LayerNorm ln, ForwardState pass) {
        if (setup == null || firstPresent(setup) == null) return ln == null ? Elementwise.add(x, h) : ln.forward(h, x);
        BottleneckState s = BottleneckState.start(h, x, ln, pass);
        s = setup instanceof Single single ? composeStack(List.of(single), s, 0) : compose(setup, s, 0);
        String last = s.last() != null ? s.last() : firstPresent(setup);
        // a Parallel block may have replicated the batch here: h follows it
        Tensor hRows = s.hidden().size(0) == h.size(0) ? h : repeatRows(h, s.hidden().size(0) / h.size(0));
        return adapter(last).postForward(s.hidden(), hRows, s.input(), ln);
    }

    /** Runs one block (or a single adapter, without its pre-forward) on the state. */
    protected BottleneckState compose(Composition block, BottleneckState s, int level) {
        return switch (block) {
            case Single single -> has(single.name()) ? composeSingle(single.name(), s) : s;
            case Stack stack -> composeStack(stack.children(), s, level);
            case BatchSplit split -> composeBatchSplit(split, s, level);
            case Fuse fuse -> composeFuse(fuse, s, level);
            case Parallel parallel -> composeParallel(parallel, s, level);
            case Average average -> composeAverage(average, s, level);
        };
    }

    /** One adapter's bottleneck on the state's hidden states and residual (its pre-forward already applied). */
    protected BottleneckState composeSingle(String name, BottleneckState s) {
        BottleneckAdapter.Output out = adapter(name).forward(s.hidden(), s.residual(), s.pass());
        return s.after(name, out.hidden(), out.up());
    }

    /** Each child in turn feeds the next; a named adapter first applies its own pre-forward. Names not here are skipped. */
    protected BottleneckState composeStack(List<Composition> children, BottleneckState s, int level) {
        for (Composition child : children) {
            if (child instanceof Single single) {
                if (!has(single.name())) continue;
                s = adapter(single.name()).preForward(s);
                s = composeSingle(single.name(), s);
            } else {
                s = compose(child, s, level + 1);
            }
        }
        return s;
    }

    /**
     * Consecutive batch rows go through each child (after the pre-forward of the block's first adapter
     * on the whole batch); rows of a child with no adapter here pass unchanged.
     */
    protected BottleneckState composeBatchSplit(BatchSplit split, BottleneckState s, int level) {
        int batch = s.hidden().size(0), total = split.sizes().stream().mapToInt(Integer::intValue).sum();
        if (total != batch) {
            throw new IllegalArgumentException("BatchSplit sizes " + split.sizes() + " sum to " + total + " but the batch has " + batch + " rows");
        }
        s = preBlock(split, s);
        List<BottleneckState> parts = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < split.children().size(); i++) {
            int n = split.sizes().get(i);
            if (n == 0) continue;
            parts.add(compose(split.children().get(i), s.rows(start, n), level + 1));
            start += n;
        }
        BottleneckState joined = BottleneckState.concatRows(parts);
        return joined.last() != null ? joined : joined.withLast(firstPresent(split));
    }

    /**
     * AdapterFusion (AdapterHub's {@code compose_fuse}): the last adapter's pre-forward chooses the hidden
     * states every child reads, the residual, and the fusion query; each child (an adapter, or a block)
     * yields its scaled bottleneck output u_i; the fusion layer over the children's names attends over
     * them and adds the residual. Children absent here are skipped; the last adapter finishes the sublayer.
     */
    protected BottleneckState composeFuse(Fuse fuse, BottleneckState s, int level) {
        String key = FusionLayer.key(fuse);
        String last = FusionLayer.lastAdapter(fuse);
        if (!has(last)) {
            throw new IllegalStateException(fuse + ": its last adapter '" + last + "', whose placement AdapterFusion follows, does not sit at layer "
                    + layer + " " + location);
        }
        FusionLayer fusion = fusionLayer(key);
        if (fusion == null) {
            throw new IllegalStateException("no fusion layer over " + key + " at layer " + layer + " " + location
                    + "; add one (FusionMethod.addFusion) or load a fusion folder");
        }
        BottleneckAdapter lastAdapter = adapter(last);
        BottleneckState pre = lastAdapter.preForward(s);
        Tensor query = lastAdapter.fusionQuery(s, pre, fusion.config().queryBeforeLn());
        List<Tensor> ups = new ArrayList<>();
        for (Composition child : fuse.children()) {
            BottleneckState out;
            if (child instanceof Single single) {
                if (!has(single.name())) continue;
                out = composeSingle(single.name(), pre);
            } else {
                out = compose(child, pre, level + 1);
            }
            if (out.up() != null) ups.add(out.up());
        }
        if (ups.isEmpty()) return pre.withLast(last);
        return pre.withHidden(fusion.forward(query, ups, pre.residual(), s.pass())).withLast(last);
    }

    /**
     * AdapterHub's {@code Parallel}: at the first site that runs it, the batch (and the pass's key mask,
     * so that later layers agree) is replicated once per child; from then on every site receives n·B rows.
     * After the block's first adapter's pre-forward, rows [i·B, (i+1)·B) go through child i (unchanged
     * where child i has no adapter here). The model's output therefore has n·B rows, copy i computed with
     * adapter i.
     */
    protected BottleneckState composeParallel(Parallel parallel, BottleneckState s, int level) {
        int n = parallel.children().size();
        ForwardState pass = s.pass();
        int copies = pass == null ? 1 : pass.batchCopies();
        if (copies == 1) {
            s = repeat(s, n);
            if (pass != null) pass.replicateBatch(n);
        } else if (copies != n) {
            throw new IllegalStateException(parallel + " has " + n + " adapters but the batch was replicated " + copies + " times");
        }
        if (s.hidden().size(0) % n != 0) {
            throw new IllegalStateException(parallel + ": " + s.hidden().size(0) + " rows do not split into " + n + " copies");
        }
        int rows = s.hidden().size(0) / n;
        s = preBlock(parallel, s);
        List<BottleneckState> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) parts.add(compose(parallel.children().get(i), s.rows(i * rows, rows), level + 1));
        BottleneckState joined = BottleneckState.concatRows(parts);
        return joined.last() != null ? joined : joined.withLast(firstPresent(parallel));
    }

    /**
     * {@code Average}: after the block's first adapter's pre-forward, every child runs on the same state
     * and the result is Σ w_i·out_i with the weights normalised to sum to 1 (over the children present here),
     * for the hidden states and the bottleneck outputs alike. Since each out_i carries the same residual,
     * the residual passes through with weight 1. AdapterHub instead takes {@code mean(stack(out)·w)},
     * which divides by the number of children once more (residual included); peft4j follows the weighted
     * sum, so {@code Average(a, a; 0.3, 0.7)} equals {@code a} alone.
     */
    protected BottleneckState composeAverage(Average average, BottleneckState s, int level) {
        s = preBlock(average, s);
        List<BottleneckState> outs = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        for (int i = 0; i < average.children().size(); i++) {
            Composition child = average.children().get(i);
            if (firstPresent(child) == null) continue;
            outs.add(compose(child, s, level + 1));
            weights.add(average.weights().get(i));
        }
        if (outs.isEmpty()) return s;
        double total = weights.stream().mapToDouble(Double::doubleValue).sum();
        Tensor hidden = null, up = null;
        boolean ups = outs.stream().allMatch(o -> o.up() != null);
        for (int i = 0; i < outs.size(); i++) {
            double w = weights.get(i) / total;
            hidden = accumulate(hidden, outs.get(i).hidden(), w);
            if (ups) up = accumulate(up, outs.get(i).up(), w);
        }
        String last = outs.getLast().last();
        return s.after(last != null ? last : firstPresent(average), hidden, up);
    }

    /** sum + w·t (just w·t when sum is null). */
    private static Tensor accumulate(Tensor sum, Tensor t, double w) {
        Tensor term = w == 1.0 ? t : Elementwise.scale(t, w);
        return sum == null ? term : Elementwise.add(sum, term);
    }

    /** Every tensor of the state repeated {@code n} times along the batch (copy i = rows [i·B, (i+1)·B)). */
    private static BottleneckState repeat(BottleneckState s, int n) {
        return new BottleneckState(repeatRows(s.hidden(), n), repeatRows(s.input(), n), repeatRows(s.residual(), n), s.ln(),
                s.up() == null ? null : repeatRows(s.up(), n), s.last(), s.pass());
    }

    private static Tensor repeatRows(Tensor t, int n) { return n == 1 ? t : Shapes.concat(0, Collections.nCopies(n, t)); }

    /** The pre-forward of the first adapter of {@code block} that sits here (AdapterHub's {@code pre_block}). */
    protected BottleneckState preBlock(Composition block, BottleneckState s) {
        String first = firstPresent(block);
        return first == null ? s : adapter(first).preForward(s);
    }

    /** The first adapter name in {@code block}, in order, that sits at this site; null if none. */
    protected String firstPresent(Composition block) {
        for (String n : block.adapterNames()) if (has(n)) return n;
        return null;
    }
}
