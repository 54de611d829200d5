package org.peft4j.io.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.DType;

/**
 * The parsed and validated JSON header of a safetensors file: the tensor entries in header order and
 * the {@code __metadata__} strings. Validation trusts nothing in the header: every entry must describe
 * a known dtype, a shape of non-negative integers and a byte range inside the data area whose length
 * is exactly shape × dtype size, and the ranges must tile the data area without overlaps or gaps (as
 * the reference implementation requires).
 */
record SafetensorsHeader(List<SafetensorsEntry> entries, Map<String, String> metadata) {
    static final String METADATA_KEY = "__metadata__";

    static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * Parses {@code json} (the header bytes) of the file called {@code file} whose data area holds
     * {@code dataSize} bytes.
     */
    static SafetensorsHeader parse(String file, byte[] json, long dataSize) throws SafetensorsException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw new SafetensorsException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (java.io.IOException e) {
            throw new SafetensorsException(file + ": header cannot be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(file + ": header must be a JSON object, found "
                    + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        List<SafetensorsEntry> entries = new ArrayList<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            String name = field.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                entries.add(parseEntry(file, name, field.getValue(), dataSize));
            }
        }
        checkTiling(file, entries, dataSize);
        return new SafetensorsHeader(Collections.unmodifiableList(entries), metadata);
    }

    private static Map<String, String> parseMetadata(String file, JsonNode node) throws SafetensorsException {
        if (!node.isObject()) {
            throw new SafetensorsException(file + ": " + METADATA_KEY + " must be an object of strings, found "
                    + node.getNodeType().toString().toLowerCase());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(file + ": " + METADATA_KEY + " entry '" + e.getKey()
                        + "' must be a string, found " + e.getValue());
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static SafetensorsEntry parseEntry(String file, String name, JsonNode node, long dataSize)
            throws SafetensorsException {
        String where = file + ": tensor '" + name + "': ";
        if (!node.isObject()) throw new SafetensorsException(where + "entry must be an object, found " + node);
        JsonNode dtypeNode = node.get("dtype"), shapeNode = node.get("shape"), offsetsNode = node.get("data_offsets");
        if (dtypeNode == null) throw new SafetensorsException(where + "missing \"dtype\"");
        if (shapeNode == null) throw new SafetensorsException(where + "missing \"shape\"");
        if (offsetsNode == null) throw new SafetensorsException(where + "missing \"data_offsets\"");
        if (!dtypeNode.isTextual()) throw new SafetensorsException(where + "dtype must be a string, found " + dtypeNode);
        DType dtype = DType.fromSafetensors(dtypeNode.textValue());
        if (dtype == null) {
            throw new SafetensorsException(where + "unknown dtype '" + dtypeNode.textValue() + "' (peft4j reads "
                    + knownDtypes() + ")");
        }
        if (!shapeNode.isArray()) throw new SafetensorsException(where + "shape must be an array, found " + shapeNode);
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            long dim = integer(where + "shape " + shapeNode + ": dimension " + i, shapeNode.get(i));
            if (dim > Integer.MAX_VALUE) {
                throw new SafetensorsException(where + "shape " + shapeNode + ": dimension " + i + " = " + dim
                        + " exceeds the largest dimension peft4j supports (" + Integer.MAX_VALUE + ")");
            }
            shape[i] = (int) dim;
        }
        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new SafetensorsException(where + "data_offsets must be an array [begin, end], found " + offsetsNode);
        }
        long begin = integer(where + "data_offsets " + offsetsNode + ": begin", offsetsNode.get(0));
        long end = integer(where + "data_offsets " + offsetsNode + ": end", offsetsNode.get(1));
        if (begin > end) {
            throw new SafetensorsException(where + "data_offsets " + offsetsNode + ": begin is after end");
        }
        if (end > dataSize) {
            throw new SafetensorsException(where + "data_offsets " + offsetsNode + " run past the end of the data area ("
                    + dataSize + " bytes)");
        }
        long needed = byteSize(shape, dtype);
        if (needed != end - begin) {
            throw new SafetensorsException(where + "data_offsets " + offsetsNode + " give " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " × " + dtype.safetensorsName() + " needs "
                    + (needed < 0 ? "more than 2^63" : Long.toString(needed)));
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    /** A non-negative JSON integer that fits a long, or an error starting with {@code what}. */
    private static long integer(String what, JsonNode node) throws SafetensorsException {
        if (node == null || !node.isIntegralNumber()) {
            throw new SafetensorsException(what + " must be a non-negative integer, found " + node);
        }
        if (!node.canConvertToLong()) throw new SafetensorsException(what + " = " + node + " is too large");
        long v = node.longValue();
        if (v < 0) throw new SafetensorsException(what + " = " + v + " is negative");
        return v;
    }

    /** numel × element size, or -1 when that overflows a long. */
    private static long byteSize(int[] shape, DType dtype) {
        try {
            long n = dtype.byteSize();
            for (int s : shape) n = Math.multiplyExact(n, s);
            return n;
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    /** The byte ranges, in data order, must follow each other exactly from 0 to {@code dataSize}. */
    private static void checkTiling(String file, List<SafetensorsEntry> entries, long dataSize)
            throws SafetensorsException {
        List<SafetensorsEntry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(SafetensorsEntry::dataBegin).thenComparingLong(SafetensorsEntry::dataEnd));
        long covered = 0;
        SafetensorsEntry previous = null;
        for (SafetensorsEntry e : byOffset) {
            if (e.dataBegin() < covered) {
                throw new SafetensorsException(file + ": tensor '" + e.name() + "': data_offsets " + range(e)
                        + " overlap tensor '" + previous.name() + "' at " + range(previous));
            }
            if (e.dataBegin() > covered) {
                throw new SafetensorsException(file + ": tensor '" + e.name() + "': data_offsets " + range(e)
                        + " leave bytes [" + covered + ", " + e.dataBegin() + ") of the data area unused"
                        + (previous == null ? "" : " after tensor '" + previous.name() + "'"));
            }
            covered = e.dataEnd();
            if (e.byteLength() > 0) previous = e;
        }
        if (covered != dataSize) {
            throw new SafetensorsException(file + ": the data area has " + dataSize + " bytes but the tensors cover only "
                    + covered + (previous == null ? "" : " (the last is tensor '" + previous.name() + "' at "
                    + range(previous) + ")"));
        }
    }

    private static String range(SafetensorsEntry e) { return "[" + e.dataBegin() + ", " + e.dataEnd() + "]"; }

    private static String knownDtypes() {
        StringBuilder sb = new StringBuilder();
        for (DType d : DType.values()) sb.append(sb.isEmpty() ? "" : ", ").append(d.safetensorsName());
        return sb.toString();
    }
}
