package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.peft4j.ops.Indexing;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * Runs groups of batch rows through different functions and puts the results back in row order:
 * PEFT's per-row {@code adapter_names} and AdapterHub's {@code BatchSplit}.
 */
public final class RowGroups {
    private RowGroups() {}

    /** Row i of x (dimension 0) goes through {@code fn.apply(names.get(i))}; rows sharing a name run together. */
    public static Tensor apply(Tensor x, List<String> names, Function<String, UnaryOperator<Tensor>> fn) {
        int b = x.size(0);
        if (names.size() != b) throw new IllegalArgumentException(names.size() + " row adapters for a batch of " + b);
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < b; i++) groups.computeIfAbsent(names.get(i), k -> new ArrayList<>()).add(i);
        if (groups.size() == 1) return fn.apply(names.get(0)).apply(x);
        List<Tensor> parts = new ArrayList<>();
        long[] inverse = new long[b];
        int at = 0;
        for (Map.Entry<String, List<Integer>> g : groups.entrySet()) {
            long[] idx = g.getValue().stream().mapToLong(Integer::longValue).toArray();
            for (int i : g.getValue()) inverse[i] = at++;
            parts.add(fn.apply(g.getKey()).apply(Indexing.indexSelect(x, 0, Tensor.of(idx, idx.length))));
        }
        return Indexing.indexSelect(Shapes.concat(0, parts), 0, Tensor.of(inverse, b));
    }
}
