package org.peft4j.io.onnx;

import java.util.List;
import java.util.Map;

/**
 * One {@code NodeProto}: an operator application. An empty input name marks an omitted optional input.
 *
 * @param name the node's name, e.g. {@code /encoder/layer.0/attention/self/query/MatMul} ("" if absent)
 * @param opType the operator, e.g. {@code MatMul}
 * @param domain the operator set's domain ("" for the default ONNX domain)
 * @param inputs names of the values consumed, in operator order
 * @param outputs names of the values produced
 * @param attributes the attributes by name
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs,
        Map<String, OnnxAttribute> attributes) {

    /** The attribute called {@code attributeName}, or null. */
    public OnnxAttribute attribute(String attributeName) { return attributes.get(attributeName); }

    @Override
    public String toString() {
        return opType + " " + name + " " + inputs + " -> " + outputs;
    }
}
