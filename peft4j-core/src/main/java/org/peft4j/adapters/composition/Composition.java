package org.peft4j.adapters.composition;

import java.util.ArrayList;
import java.util.List;

/**
 * Which named adapters run and how they combine, as AdapterHub's composition blocks. A plain name is a
 * {@link Single}; blocks nest ({@code Stack(a, Fuse(b, c))}).
 */
public sealed interface Composition permits Single, Stack, Fuse, Parallel, BatchSplit, Average {
    /** The blocks or names this one combines. */
    List<Composition> children();

    /** Every adapter name used anywhere below this block, in order, without repeats. */
    default List<String> adapterNames() {
        List<String> out = new ArrayList<>();
        collect(this, out);
        return out;
    }

    private static void collect(Composition c, List<String> out) {
        if (c instanceof Single s) {
            if (!out.contains(s.name())) out.add(s.name());
        } else {
            for (Composition child : c.children()) collect(child, out);
        }
    }

    static Composition of(String name) { return new Single(name); }

    /** Parses {@code a}, {@code Stack(a,b)}, {@code Fuse(a,b,c)}, {@code Parallel(a,b)}, {@code BatchSplit(a,b;1,3)}, {@code Average(a,b;0.3,0.7)}. */
    static Composition parse(String text) { return CompositionParser.parse(text); }
}
