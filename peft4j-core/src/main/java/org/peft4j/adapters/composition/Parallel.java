package org.peft4j.adapters.composition;

import java.util.List;

/** The batch is replicated, each copy running through one adapter (and its own head). */
public record Parallel(List<Composition> children) implements Composition {
    public Parallel {
        if (children.size() < 2) throw new IllegalArgumentException("Parallel needs at least two adapters");
        children = List.copyOf(children);
    }

    public static Parallel of(String... names) { return new Parallel(java.util.Arrays.stream(names).map(Composition::of).toList()); }

    @Override
    public String toString() { return "Parallel" + children.toString().replace('[', '(').replace(']', ')'); }
}
