package org.peft4j.adapters.bottleneck;

import java.util.ArrayList;
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
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.LayerNorm;
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
 */
public class BottleneckSite extends AdapterSite {
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
        return adapter(last).postForward(s.hidden(), h, s.input(), ln);
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

    /** AdapterFusion over the children's bottleneck outputs. */
    protected BottleneckState composeFuse(Fuse fuse, BottleneckState s, int level) {
        throw new UnsupportedOperationException("composition block Fuse is not available at bottleneck sites in this build (" + fuse + ")");
    }

    /** The batch replicated once per child, each copy through one child. */
    protected BottleneckState composeParallel(Parallel parallel, BottleneckState s, int level) {
        throw new UnsupportedOperationException("composition block Parallel is not available at bottleneck sites in this build (" + parallel + ")");
    }

    /** The weighted sum of the children's outputs. */
    protected BottleneckState composeAverage(Average average, BottleneckState s, int level) {
        throw new UnsupportedOperationException("composition block Average is not available at bottleneck sites in this build (" + average + ")");
    }

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
