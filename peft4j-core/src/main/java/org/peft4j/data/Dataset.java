package org.peft4j.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A named list of examples for one task.
 *
 * @param name where it came from (a file name or {@code builtin:…}), used in reports and messages
 * @param task what the examples are learned as
 * @param examples the examples, in the source's order
 * @param labels the label names of a classification dataset; kept sorted (and distinct) so that class
 *     id {@code i} is {@code labels.get(i)} whatever order they were found in. Empty for the other tasks.
 */
public record Dataset(String name, TaskType task, List<Example> examples, List<String> labels) {

    public Dataset {
        examples = List.copyOf(examples);
        labels = labels.stream().distinct().sorted().toList();
        if (task == TaskType.CLASSIFICATION) {
            for (Example e : examples) {
                if (e.label() == null || Collections.binarySearch(labels, e.label()) < 0) {
                    throw new IllegalArgumentException(name + ": example at line " + e.line()
                            + " has label " + e.label() + ", not one of " + labels);
                }
            }
        }
    }

    public int size() { return examples.size(); }

    /** The examples at {@code indices}, in that order, with the same task and label names. */
    public Dataset subset(List<Integer> indices) {
        List<Example> picked = new ArrayList<>(indices.size());
        for (int i : indices) picked.add(examples.get(i));
        return new Dataset(name, task, picked, labels);
    }

    /** The first {@code n} examples (all when {@code n} is at least the size), e.g. for {@code --train-limit}. */
    public Dataset limit(int n) {
        if (n >= examples.size()) return this;
        return new Dataset(name, task, examples.subList(0, Math.max(0, n)), labels);
    }

    /** The class id of a label name. */
    public int labelIndex(String label) {
        int i = Collections.binarySearch(labels, label);
        if (i < 0) throw new IllegalArgumentException(name + ": unknown label " + label + ", expected one of " + labels);
        return i;
    }

    public int numLabels() { return labels.size(); }

    /** How many examples each label has, in label order (classification; empty otherwise). */
    public Map<String, Integer> labelCounts() {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String label : labels) counts.put(label, 0);
        for (Example e : examples) {
            if (e.label() != null) counts.merge(e.label(), 1, Integer::sum);
        }
        return counts;
    }
}
