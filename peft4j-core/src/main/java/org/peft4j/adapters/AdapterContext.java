package org.peft4j.adapters;

import java.util.List;
import org.peft4j.adapters.composition.Composition;

/**
 * The state every installed adapter layer of one model reads at forward time: which adapters are
 * active and how they combine, an optional adapter per batch row (PEFT's {@code adapter_names}), and
 * AdapterDrop. Shared by reference, so switching adapters touches no layer.
 */
public final class AdapterContext {
    private Composition active;
    private List<String> rowAdapters;
    private int dropBelowLayer;

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

    /** Whether adapters run in layer {@code layer} (AdapterDrop). */
    public boolean layerActive(int layer) { return layer >= dropBelowLayer; }

    /** Whether adapter {@code name} takes part in the active composition. */
    public boolean isActive(String name) { return active != null && active.adapterNames().contains(name); }
}
