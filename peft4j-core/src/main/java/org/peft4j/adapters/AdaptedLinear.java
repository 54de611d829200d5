package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.Tensor;

/**
 * A linear layer with adapters, in PEFT's layout: the original layer as {@code base_layer}, each method's
 * tensors in containers keyed by adapter name ({@code lora_A.<name>}, {@code ia3_l.<name>}...). The forward
 * runs the adapters that the shared {@link AdapterContext} marks active, or, for a mixed batch, each row
 * through its own adapter.
 */
public final class AdaptedLinear extends Layer {
    private final AdapterContext context;
    private final int layerIndex;
    private final Map<String, LinearAdapter> adapters = new LinkedHashMap<>();

    public AdaptedLinear(Linear base, AdapterContext context, int layerIndex) {
        this.context = context;
        this.layerIndex = layerIndex;
        registerModule("base_layer", base);
    }

    public Linear base() { return child("base_layer"); }

    /** The model's adapter state this layer reads at forward time. */
    public AdapterContext context() { return context; }

    /** The transformer layer this projection belongs to (-1 outside the layer stack). */
    public int layerIndex() { return layerIndex; }

    public int inFeatures() { return base().inFeatures(); }

    public int outFeatures() { return base().outFeatures(); }

    /** Adds an adapter's change under its name. */
    public void add(String name, LinearAdapter adapter) {
        if (adapters.containsKey(name)) throw new IllegalArgumentException("adapter '" + name + "' is already on this layer");
        adapters.put(name, adapter);
    }

    /** Removes an adapter and its tensors (stored in containers keyed by its name). */
    public void remove(String name) {
        adapters.remove(name);
        for (var child : children().values()) {
            if (child instanceof ModuleDict dict && dict.hasChild(name)) dict.removeChild(name);
            if (child instanceof ModuleDict dict) dict.registerParameter(name, null);
        }
    }

    public Map<String, LinearAdapter> adapters() { return java.util.Collections.unmodifiableMap(adapters); }

    /** A container child ({@code lora_A}, ...) created on first use. */
    public ModuleDict container(String name) {
        if (!hasChild(name)) registerModule(name, new ModuleDict());
        return child(name);
    }

    @Override
    public Tensor forward(Tensor x) {
        List<String> rows = context.rowAdapters();
        if (rows != null && context.layerActive(layerIndex)) {
            return RowGroups.apply(x, rows, name -> xs -> run(xs, adapters.containsKey(name) ? List.of(name) : List.of()));
        }
        List<String> active = new ArrayList<>();
        if (context.layerActive(layerIndex) && context.active() != null) {
            for (String name : context.active().adapterNames()) if (adapters.containsKey(name)) active.add(name);
        }
        return run(x, active);
    }

    /** The base projection with the given adapters applied in order. */
    public Tensor run(Tensor x, List<String> names) {
        Tensor in = x;
        for (String n : names) in = adapters.get(n).transformInput(in, this);
        Tensor out = base().forward(in);
        for (String n : names) out = adapters.get(n).transformOutput(x, out, this);
        return out;
    }
}
