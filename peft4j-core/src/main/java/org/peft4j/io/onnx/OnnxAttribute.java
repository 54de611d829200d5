package org.peft4j.io.onnx;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One {@code AttributeProto} of a node. {@code value} holds, by {@link Type}: FLOAT a Float, INT a Long,
 * STRING a byte[], TENSOR an {@link OnnxTensor}, GRAPH an {@link OnnxGraph}, FLOATS a float[], INTS a
 * long[], STRINGS a {@code List<byte[]>}, TENSORS a {@code List<OnnxTensor>}, GRAPHS a
 * {@code List<OnnxGraph>}; null for the kinds peft4j does not read (sparse tensors, type protos).
 */
public record OnnxAttribute(String name, Type type, Object value) {

    /** {@code AttributeProto.AttributeType}, with its wire codes. */
    public enum Type {
        UNDEFINED, FLOAT, INT, STRING, TENSOR, GRAPH, FLOATS, INTS, STRINGS, TENSORS, GRAPHS,
        SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS;

        /** The type with this wire code, or UNDEFINED. */
        public static Type fromCode(long code) {
            return code > 0 && code < values().length ? values()[(int) code] : UNDEFINED;
        }
    }

    public float asFloat() { return (Float) as(Type.FLOAT); }

    public long asInt() { return (Long) as(Type.INT); }

    /** A STRING attribute decoded as UTF-8. */
    public String asString() { return new String((byte[]) as(Type.STRING), StandardCharsets.UTF_8); }

    public OnnxTensor asTensor() { return (OnnxTensor) as(Type.TENSOR); }

    public OnnxGraph asGraph() { return (OnnxGraph) as(Type.GRAPH); }

    public float[] asFloats() { return (float[]) as(Type.FLOATS); }

    public long[] asInts() { return (long[]) as(Type.INTS); }

    @SuppressWarnings("unchecked")
    public List<OnnxTensor> asTensors() { return (List<OnnxTensor>) as(Type.TENSORS); }

    private Object as(Type expected) {
        if (type != expected || value == null) {
            throw new IllegalStateException("attribute '" + name + "' is " + type + ", not " + expected);
        }
        return value;
    }
}
