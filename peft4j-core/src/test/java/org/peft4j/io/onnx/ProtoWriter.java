package org.peft4j.io.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds protobuf wire-format bytes by hand for tests. */
final class ProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    ProtoWriter rawVarint(long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
        return this;
    }

    ProtoWriter tag(int field, int wireType) {
        return rawVarint(((long) field << 3) | wireType);
    }

    ProtoWriter varint(int field, long v) {
        return tag(field, ProtoReader.VARINT).rawVarint(v);
    }

    ProtoWriter bytes(int field, byte[] b) {
        tag(field, ProtoReader.LENGTH_DELIMITED).rawVarint(b.length);
        out.writeBytes(b);
        return this;
    }

    ProtoWriter string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    ProtoWriter message(int field, ProtoWriter m) {
        return bytes(field, m.toBytes());
    }

    ProtoWriter fixed32(int field, float f) {
        tag(field, ProtoReader.FIXED32);
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(f).array());
        return this;
    }

    ProtoWriter fixed64(int field, long v) {
        tag(field, ProtoReader.FIXED64);
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        return this;
    }

    ProtoWriter packedVarints(int field, long... values) {
        ProtoWriter body = new ProtoWriter();
        for (long v : values) body.rawVarint(v);
        return bytes(field, body.toBytes());
    }

    ProtoWriter packedFloats(int field, float... values) {
        return bytes(field, littleEndian(values));
    }

    ProtoWriter raw(byte... b) {
        out.writeBytes(b);
        return this;
    }

    byte[] toBytes() {
        return out.toByteArray();
    }

    static byte[] littleEndian(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        return b.array();
    }

    // ---- ONNX messages

    /** A TensorProto with raw_data. */
    static ProtoWriter floatTensor(String name, float[] values, long... dims) {
        ProtoWriter t = new ProtoWriter();
        for (long d : dims) t.varint(1, d);
        return t.varint(2, OnnxDataType.FLOAT.code()).string(8, name).bytes(9, littleEndian(values));
    }

    /** A NodeProto. */
    static ProtoWriter node(String name, String opType, String[] inputs, String... outputs) {
        ProtoWriter n = new ProtoWriter();
        for (String in : inputs) n.string(1, in);
        for (String o : outputs) n.string(2, o);
        return n.string(3, name).string(4, opType);
    }

    /** A Constant node whose value is a float scalar. */
    static ProtoWriter constant(String name, String output, float value) {
        ProtoWriter tensor = new ProtoWriter().varint(2, OnnxDataType.FLOAT.code()).bytes(9, littleEndian(value));
        ProtoWriter attr = new ProtoWriter().string(1, "value").varint(20, OnnxAttribute.Type.TENSOR.ordinal())
                .message(5, tensor);
        return node(name, "Constant", new String[0], output).message(5, attr);
    }

    /** A ModelProto around a graph, which comes last. */
    static byte[] model(ProtoWriter graph) {
        return new ProtoWriter().varint(1, 8).string(2, "test")
                .message(8, new ProtoWriter().string(1, "").varint(2, 17)).message(7, graph).toBytes();
    }
}
