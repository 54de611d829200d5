package org.peft4j.adapters.composition;

import java.util.List;

/** AdapterFusion: attention over the outputs of the listed adapters, whose fusion layers are named by them. */
public record Fuse(List<Composition> children) implements Composition {
    public Fuse {
        if (children.size() < 2) throw new IllegalArgumentException("Fuse needs at least two adapters");
        children = List.copyOf(children);
    }

    public static Fuse of(String... names) { return new Fuse(java.util.Arrays.stream(names).map(Composition::of).toList()); }

    @Override
    public String toString() { return "Fuse" + children.toString().replace('[', '(').replace(']', ')'); }
}
