package org.peft4j.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.tensor.Tensor;

/**
 * A checkpoint's tensors under the model's canonical Hugging Face names, checked against the
 * architecture's parameter specs: missing, unexpected and wrongly shaped tensors are reported together
 * in one error.
 */
public final class Weights {
    private final Map<String, Tensor> tensors;

    private Weights(Map<String, Tensor> tensors) { this.tensors = tensors; }

    /** Validates {@code raw} (names already canonical) against the specs; optional groups may be absent as a whole. */
    public static Weights validate(Map<String, Tensor> raw, List<ParamSpec> required, List<List<ParamSpec>> optionalGroups,
                                   Set<String> ignoredPrefixes, String source) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        Set<String> missing = new TreeSet<>();
        Map<String, ParamSpec> known = new LinkedHashMap<>();
        for (ParamSpec s : required) known.put(s.name(), s);
        for (ParamSpec s : required) if (!raw.containsKey(s.name())) missing.add(s.name());
        for (List<ParamSpec> group : optionalGroups) {
            boolean any = group.stream().anyMatch(s -> raw.containsKey(s.name()));
            for (ParamSpec s : group) {
                known.put(s.name(), s);
                if (any && !raw.containsKey(s.name())) missing.add(s.name());
            }
        }
        Set<String> unexpected = new TreeSet<>();
        for (Map.Entry<String, Tensor> e : raw.entrySet()) {
            ParamSpec spec = known.get(e.getKey());
            if (spec == null) {
                if (ignoredPrefixes.stream().noneMatch(e.getKey()::startsWith)) unexpected.add(e.getKey());
                continue;
            }
            if (!Arrays.equals(spec.shape(), e.getValue().shape())) {
                problems.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(e.getValue().shape())
                        + " but the config needs " + Arrays.toString(spec.shape()));
            }
            if (!e.getValue().dtype().isFloating()) {
                problems.add("tensor '" + e.getKey() + "' has dtype " + e.getValue().dtype() + ", expected a float type");
            }
            out.put(e.getKey(), e.getValue());
        }
        if (!missing.isEmpty()) problems.add(0, "missing tensors: " + missing);
        if (!unexpected.isEmpty()) problems.add("unexpected tensors: " + unexpected);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(source + ": checkpoint does not match its config:\n  - "
                    + String.join("\n  - ", problems));
        }
        return new Weights(out);
    }

    /** A validated tensor. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalStateException("no tensor '" + name + "'");
        return t;
    }

    /** A tensor of an optional group, or null. */
    public Tensor opt(String name) { return tensors.get(name); }

    public boolean has(String name) { return tensors.containsKey(name); }
}
