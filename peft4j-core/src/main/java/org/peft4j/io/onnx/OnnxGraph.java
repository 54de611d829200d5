package org.peft4j.io.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code GraphProto}: nodes in topological order, initializers by name, and the names of the
 * graph's inputs and outputs. Also indexes which nodes consume and produce each value, so weight
 * importers can follow an anonymous initializer to the node that uses it.
 */
public final class OnnxGraph {
    private final String name;
    private final List<OnnxNode> nodes;
    private final Map<String, OnnxTensor> initializers;
    private final List<String> inputs;
    private final List<String> outputs;
    private final Map<String, List<OnnxNode>> consumers = new HashMap<>();
    private final Map<String, OnnxNode> producers = new HashMap<>();

    public OnnxGraph(String name, List<OnnxNode> nodes, Map<String, OnnxTensor> initializers, List<String> inputs,
            List<String> outputs) {
        this.name = name;
        this.nodes = List.copyOf(nodes);
        this.initializers = initializers;
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        for (OnnxNode node : this.nodes) {
            for (String in : node.inputs()) {
                if (!in.isEmpty()) consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
            }
            for (String out : node.outputs()) {
                if (!out.isEmpty()) producers.put(out, node);
            }
        }
    }

    public String name() { return name; }

    /** The nodes in file (topological) order. */
    public List<OnnxNode> nodes() { return nodes; }

    /** Initializers by name, in file order. */
    public Map<String, OnnxTensor> initializers() { return initializers; }

    /** Names of the graph's inputs (may include initializers in older IR versions). */
    public List<String> inputs() { return inputs; }

    /** Names of the graph's outputs. */
    public List<String> outputs() { return outputs; }

    /** The initializer called {@code tensorName}, or null. */
    public OnnxTensor initializer(String tensorName) { return initializers.get(tensorName); }

    /** The nodes that take value {@code valueName} as an input (empty if none). */
    public List<OnnxNode> consumers(String valueName) { return consumers.getOrDefault(valueName, List.of()); }

    /** The node that produces value {@code valueName}, or null for graph inputs and initializers. */
    public OnnxNode producer(String valueName) { return producers.get(valueName); }
}
