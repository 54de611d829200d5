package org.peft4j.adapters.composition;

import java.util.List;

/** The output of each adapter feeds the next. */
public record Stack(List<Composition> children) implements Composition {
    public Stack {
        if (children.size() < 2) throw new IllegalArgumentException("Stack needs at least two adapters");
        children = List.copyOf(children);
    }

    public static Stack of(String... names) { return new Stack(java.util.Arrays.stream(names).map(Composition::of).toList()); }

    @Override
    public String toString() { return "Stack" + children.toString().replace('[', '(').replace(']', ')'); }
}
