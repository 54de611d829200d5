package org.peft4j.adapters;

import java.util.List;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.composition.Composition;

/**
 * The state every installed adapter layer of one model reads at forward time: which adapters are
 * active and how they combine, an optional adapter per batch row (PEFT's {@code adapter_names}),
 * AdapterDrop, and the dropout generator of the forward in progress. Shared by reference, so
 * switching adapters touches no layer.
 */
public final class AdapterContext {
    private Composition active;
    private List<String> rowAdapters;
    private int dropBelowLayer;
    private RandomGenerator forwardRng;

    /** The active composition, or null when no adapter runs. */
    public Composition active() { return active; }

    public void setActive(Composition active) { this.active = active; }

    /** Per-row adapter names for a mixed batch ("__base__" = none), or null. */
    public List<String> rowAdapters() { return rowAdapters; }

    public void setRowAdapters(List<String> rowAdapters) { this.rowAdapters = rowAdapters == null ? null : List.copyOf(rowAdapters); }

    /** AdapterDrop: layers below this index run without adapters. */
    public int dropBelowLayer() { return dropBelowLayer; }

    public void setDropBelowLayer(int layer) {
        if (layer < 0) throw new IllegalArgumentException("AdapterDrop layer count must be >= 0");
        this.dropBelowLayer = layer;
    }

    /**
     * The dropout generator of the forward in progress, or null outside one. Adapters that drop out
     * draw from it rather than from a generator of their own, so a training step's masks follow from
     * the step alone, as resuming a killed run needs.
     */
    public RandomGenerator forwardRng() { return forwardRng; }

    void setForwardRng(RandomGenerator rng) { this.forwardRng = rng; }

    /** {@link #forwardRng()}, or {@code own} outside a model forward (a layer called on its own). */
    public RandomGenerator dropoutRng(RandomGenerator own) { return forwardRng != null ? forwardRng : own; }

    /** Whether adapters run in layer {@code layer} (AdapterDrop). */
    public boolean layerActive(int layer) { return layer >= dropBelowLayer; }

    /** Whether adapter {@code name} takes part in the active composition. */
    public boolean isActive(String name) { return active != null && active.adapterNames().contains(name); }
}
