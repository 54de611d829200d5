package org.peft4j.adapters.composition;

import java.util.List;

/** One named adapter. */
public record Single(String name) implements Composition {
    @Override
    public List<Composition> children() { return List.of(); }

    @Override
    public String toString() { return name; }
}
