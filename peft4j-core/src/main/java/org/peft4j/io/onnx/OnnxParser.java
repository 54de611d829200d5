package org.peft4j.io.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;

/**
 * Decodes ONNX messages (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto) from protobuf
 * wire format. Field numbers are those of {@code onnx.proto}; fields peft4j does not use are skipped.
 */
final class OnnxParser {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private OnnxParser() {}

    static OnnxModel parseModel(ProtoReader r) throws OnnxFormatException {
        long irVersion = 0;
        String producerName = "";
        String producerVersion = "";
        Map<String, Long> opsets = new LinkedHashMap<>();
        OnnxGraph graph = null;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> irVersion = r.varint("ir_version");
                case 2 -> producerName = r.string("producer_name");
                case 3 -> producerVersion = r.string("producer_version");
                case 7 -> graph = parseGraph(r.message("graph"));
                case 8 -> parseOpset(r.message("opset_import[" + opsets.size() + "]"), opsets);
                default -> r.skip();
            }
        }
        if (graph == null) throw r.error(0, "graph", "the model has no graph");
        return new OnnxModel(irVersion, producerName, producerVersion, opsets, graph);
    }

    private static void parseOpset(ProtoReader r, Map<String, Long> opsets) throws OnnxFormatException {
        String domain = "";
        long version = 0;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> domain = r.string("domain");
                case 2 -> version = r.varint("version");
                default -> r.skip();
            }
        }
        opsets.put(domain, version);
    }

    static OnnxGraph parseGraph(ProtoReader r) throws OnnxFormatException {
        String name = "";
        List<OnnxNode> nodes = new ArrayList<>();
        Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> nodes.add(parseNode(r.message("node[" + nodes.size() + "]")));
                case 2 -> name = r.string("name");
                case 5 -> {
                    long at = r.position();
                    String path = "initializer[" + initializers.size() + "]";
                    OnnxTensor t = parseTensor(r.message(path));
                    if (initializers.putIfAbsent(t.name(), t) != null) {
                        throw r.error(at, path, "duplicate initializer name '" + t.name() + "'");
                    }
                }
                case 11 -> inputs.add(valueInfoName(r.message("input[" + inputs.size() + "]")));
                case 12 -> outputs.add(valueInfoName(r.message("output[" + outputs.size() + "]")));
                default -> r.skip();
            }
        }
        return new OnnxGraph(name, nodes, initializers, inputs, outputs);
    }

    private static String valueInfoName(ProtoReader r) throws OnnxFormatException {
        String name = "";
        while (r.next()) {
            if (r.field() == 1) name = r.string("name");
            else r.skip();
        }
        return name;
    }

    static OnnxNode parseNode(ProtoReader r) throws OnnxFormatException {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String opType = "";
        String domain = "";
        Map<String, OnnxAttribute> attributes = new LinkedHashMap<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> inputs.add(r.string("input"));
                case 2 -> outputs.add(r.string("output"));
                case 3 -> name = r.string("name");
                case 4 -> opType = r.string("op_type");
                case 7 -> domain = r.string("domain");
                case 5 -> {
                    OnnxAttribute a = parseAttribute(r.message("attribute[" + attributes.size() + "]"));
                    attributes.put(a.name(), a);
                }
                default -> r.skip();
            }
        }
        return new OnnxNode(name, opType, domain, List.copyOf(inputs), List.copyOf(outputs), attributes);
    }

    static OnnxAttribute parseAttribute(ProtoReader r) throws OnnxFormatException {
        long start = r.position();
        String name = "";
        OnnxAttribute.Type declared = OnnxAttribute.Type.UNDEFINED;
        OnnxAttribute.Type seen = OnnxAttribute.Type.UNDEFINED;
        Object value = null;
        List<MemorySegment> floatRuns = new ArrayList<>();
        LongStream.Builder ints = LongStream.builder();
        List<Object> list = new ArrayList<>();
        while (r.next()) {
            switch (r.field()) {
                case 1 -> name = r.string("name");
                case 20 -> declared = OnnxAttribute.Type.fromCode(r.varint("type"));
                case 2 -> { value = r.fixed32Float("f"); seen = OnnxAttribute.Type.FLOAT; }
                case 3 -> { value = r.varint("i"); seen = OnnxAttribute.Type.INT; }
                case 4 -> { value = r.bytes("s").toArray(ValueLayout.JAVA_BYTE); seen = OnnxAttribute.Type.STRING; }
                case 5 -> { value = parseTensor(r.message("t")); seen = OnnxAttribute.Type.TENSOR; }
                case 6 -> { value = parseGraph(r.message("g")); seen = OnnxAttribute.Type.GRAPH; }
                case 7 -> { floatRuns.add(r.fixedRun("floats", 4)); seen = OnnxAttribute.Type.FLOATS; }
                case 8 -> { r.varints("ints", ints); seen = OnnxAttribute.Type.INTS; }
                case 9 -> { list.add(r.bytes("strings").toArray(ValueLayout.JAVA_BYTE)); seen = OnnxAttribute.Type.STRINGS; }
                case 10 -> { list.add(parseTensor(r.message("tensors[" + list.size() + "]"))); seen = OnnxAttribute.Type.TENSORS; }
                case 11 -> { list.add(parseGraph(r.message("graphs[" + list.size() + "]"))); seen = OnnxAttribute.Type.GRAPHS; }
                default -> r.skip();
            }
        }
        // IR version 1 files carry no type field: the populated value field tells it.
        OnnxAttribute.Type type = declared != OnnxAttribute.Type.UNDEFINED ? declared : seen;
        switch (type) {
            case FLOATS -> value = toFloats(concat(floatRuns));
            case INTS -> value = ints.build().toArray();
            case STRINGS, TENSORS, GRAPHS -> value = List.copyOf(list);
            case SPARSE_TENSOR, SPARSE_TENSORS, TYPE_PROTO, TYPE_PROTOS, UNDEFINED -> value = null;
            default -> {
                if (type != seen) throw r.error(start, "attribute '" + name + "'", "declared " + type + " but holds " + seen);
            }
        }
        return new OnnxAttribute(name, type, value);
    }

    static OnnxTensor parseTensor(ProtoReader r) throws OnnxFormatException {
        long start = r.position();
        LongStream.Builder dimsBuilder = LongStream.builder();
        int dataType = 0;
        String name = "";
        MemorySegment raw = null;
        List<MemorySegment> floatRuns = new ArrayList<>();
        List<MemorySegment> doubleRuns = new ArrayList<>();
        LongStream.Builder int32s = LongStream.builder();
        LongStream.Builder int64s = LongStream.builder();
        LongStream.Builder uint64s = LongStream.builder();
        boolean hasInt32 = false;
        boolean hasInt64 = false;
        boolean hasUint64 = false;
        int strings = 0;
        boolean external = false;
        while (r.next()) {
            switch (r.field()) {
                case 1 -> r.varints("dims", dimsBuilder);
                case 2 -> dataType = r.int32("data_type");
                case 3 -> throw r.error("segment", "tensor '" + name + "' is split into segments, which peft4j does not read");
                case 4 -> floatRuns.add(r.fixedRun("float_data", 4));
                case 5 -> { r.varints("int32_data", int32s); hasInt32 = true; }
                case 6 -> { r.skip(); strings++; }
                case 7 -> { r.varints("int64_data", int64s); hasInt64 = true; }
                case 8 -> name = r.string("name");
                case 9 -> raw = r.bytes("raw_data");
                case 10 -> doubleRuns.add(r.fixedRun("double_data", 8));
                case 11 -> { r.varints("uint64_data", uint64s); hasUint64 = true; }
                case 13 -> { r.skip(); external = true; }
                case 14 -> external |= r.varint("data_location") == 1;
                default -> r.skip();
            }
        }
        String what = "tensor '" + name + "'";
        if (external) {
            throw r.error(start, "external_data", what + " keeps its data in an external file, which peft4j does not read");
        }
        long[] dims = dimsBuilder.build().toArray();
        long numel = 1;
        for (long d : dims) {
            if (d < 0) throw r.error(start, "dims", what + " has negative dimension in " + Arrays.toString(dims));
            try {
                numel = Math.multiplyExact(numel, d);
            } catch (ArithmeticException e) {
                throw r.error(start, "dims", what + " has too many elements: " + Arrays.toString(dims));
            }
        }
        OnnxDataType type = OnnxDataType.fromCode(dataType);
        if (type == null) {
            // A type peft4j does not know (float8, int4...): keep the raw bytes, unvalidated, for callers that skip it.
            return new OnnxTensor(name, dataType, dims, raw != null ? raw : MemorySegment.NULL);
        }
        if (type == OnnxDataType.STRING) {
            if (strings != numel) throw r.error(start, "string_data", what + " has " + strings + " strings for " + numel + " elements");
            return new OnnxTensor(name, dataType, dims, MemorySegment.NULL);
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, type.byteSize());
        } catch (ArithmeticException e) {
            throw r.error(start, "dims", what + " has too many elements: " + Arrays.toString(dims));
        }
        MemorySegment data;
        String field;
        if (raw != null) {
            field = "raw_data";
            data = raw;
        } else if (!floatRuns.isEmpty()) {
            field = "float_data";
            requireType(r, start, what, field, type, OnnxDataType.FLOAT, OnnxDataType.COMPLEX64);
            data = concat(floatRuns);
        } else if (!doubleRuns.isEmpty()) {
            field = "double_data";
            requireType(r, start, what, field, type, OnnxDataType.DOUBLE, OnnxDataType.COMPLEX128);
            data = concat(doubleRuns);
        } else if (hasInt32) {
            field = "int32_data";
            requireType(r, start, what, field, type, OnnxDataType.INT32, OnnxDataType.INT16, OnnxDataType.INT8,
                    OnnxDataType.UINT16, OnnxDataType.UINT8, OnnxDataType.BOOL, OnnxDataType.FLOAT16, OnnxDataType.BFLOAT16);
            data = pack(int32s.build().toArray(), type.byteSize());
        } else if (hasInt64) {
            field = "int64_data";
            requireType(r, start, what, field, type, OnnxDataType.INT64);
            data = pack(int64s.build().toArray(), 8);
        } else if (hasUint64) {
            field = "uint64_data";
            requireType(r, start, what, field, type, OnnxDataType.UINT32, OnnxDataType.UINT64);
            data = pack(uint64s.build().toArray(), type.byteSize());
        } else {
            field = "raw_data";
            data = MemorySegment.ofArray(new byte[0]);
        }
        if (data.byteSize() != bytes) {
            throw r.error(start, field, what + " of type " + type + " and shape " + Arrays.toString(dims) + " needs "
                    + bytes + " bytes of data but has " + data.byteSize());
        }
        return new OnnxTensor(name, dataType, dims, data);
    }

    private static void requireType(ProtoReader r, long start, String what, String field, OnnxDataType type,
            OnnxDataType... allowed) throws OnnxFormatException {
        for (OnnxDataType a : allowed) if (a == type) return;
        throw r.error(start, field, what + " has data_type " + type + ", which " + field + " cannot hold");
    }

    /** Joins slices; a single slice is returned as it is, so packed float data stays a view of the file. */
    private static MemorySegment concat(List<MemorySegment> runs) {
        if (runs.size() == 1) return runs.getFirst();
        long total = 0;
        for (MemorySegment s : runs) total += s.byteSize();
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(total)]);
        long at = 0;
        for (MemorySegment s : runs) {
            MemorySegment.copy(s, 0, out, at, s.byteSize());
            at += s.byteSize();
        }
        return out;
    }

    private static float[] toFloats(MemorySegment packed) {
        float[] out = new float[Math.toIntExact(packed.byteSize() / 4)];
        for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat(packed.get(LE_INT, 4L * i));
        return out;
    }

    /** Writes varint-decoded values at {@code width} bytes each, little-endian, as raw_data would hold them. */
    private static MemorySegment pack(long[] values, int width) {
        MemorySegment out = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, width)]);
        for (int i = 0; i < values.length; i++) {
            long v = values[i];
            switch (width) {
                case 1 -> out.set(ValueLayout.JAVA_BYTE, i, (byte) v);
                case 2 -> out.set(LE_SHORT, 2L * i, (short) v);
                case 4 -> out.set(LE_INT, 4L * i, (int) v);
                default -> out.set(LE_LONG, 8L * i, v);
            }
        }
        return out;
    }
}
