package org.peft4j.adapters.composition;

import java.util.List;

/** Consecutive row ranges of the batch, of the given sizes, each through one adapter. */
public record BatchSplit(List<Composition> children, List<Integer> sizes) implements Composition {
    public BatchSplit {
        if (children.size() != sizes.size()) {
            throw new IllegalArgumentException("BatchSplit has " + children.size() + " adapters but " + sizes.size() + " batch sizes");
        }
        for (int s : sizes) if (s < 0) throw new IllegalArgumentException("BatchSplit sizes must be >= 0: " + sizes);
        children = List.copyOf(children);
        sizes = List.copyOf(sizes);
    }

    @Override
    public String toString() { return "BatchSplit" + children.toString().replace('[', '(').replace(']', ')') + sizes; }
}
