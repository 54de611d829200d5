package org.peft4j.adapters.composition;

import java.util.List;

/** A weighted sum of the adapters' outputs, the weights normalised to sum to 1. */
public record Average(List<Composition> children, List<Double> weights) implements Composition {
    public Average {
        if (children.size() != weights.size()) {
            throw new IllegalArgumentException("Average has " + children.size() + " adapters but " + weights.size() + " weights");
        }
        double sum = weights.stream().mapToDouble(Double::doubleValue).sum();
        if (!(sum > 0)) throw new IllegalArgumentException("Average weights must have a positive sum: " + weights);
        children = List.copyOf(children);
        weights = weights.stream().map(w -> w / sum).toList();
    }

    @Override
    public String toString() { return "Average" + children.toString().replace('[', '(').replace(']', ')') + weights; }
}
