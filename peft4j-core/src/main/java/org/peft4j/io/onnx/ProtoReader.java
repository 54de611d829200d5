package org.peft4j.io.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.stream.LongStream;

/**
 * A cursor over one protobuf message in wire format: a sequence of (tag, value) fields where the tag
 * carries the field number and one of four wire types (varint, 64-bit, length-delimited, 32-bit).
 *
 * <p>Length-delimited values (strings, bytes, nested messages, packed arrays) are returned as slices
 * of the underlying segment, so large tensors are never copied. Every length is checked against the
 * end of the enclosing message; a violation throws {@link OnnxFormatException} naming the message path,
 * the field and the absolute byte offset.
 *
 * <p>Typical use: {@code while (r.next()) switch (r.field()) { case 1 -> ...; default -> r.skip(); }}.
 */
public final class ProtoReader {
    public static final int VARINT = 0;
    public static final int FIXED64 = 1;
    public static final int LENGTH_DELIMITED = 2;
    public static final int FIXED32 = 5;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final long end;
    private final String path;
    private long pos;
    private long tagOffset;
    private int field;
    private int wireType;

    /** A reader over the whole of {@code data}, which holds one message called {@code path} in errors. */
    public ProtoReader(MemorySegment data, String path) {
        this(data, 0, data.byteSize(), path);
    }

    private ProtoReader(MemorySegment data, long start, long end, String path) {
        this.data = data;
        this.pos = start;
        this.end = end;
        this.path = path;
    }

    /** Reads the next tag; false at the end of the message. */
    public boolean next() throws OnnxFormatException {
        if (pos >= end) return false;
        tagOffset = pos;
        long tag = readRawVarint("tag");
        int number = (int) (tag >>> 3);
        int type = (int) (tag & 7);
        if (tag >>> 3 > 0x1FFFFFFF || number == 0) {
            throw error(tagOffset, "tag", "invalid field number " + (tag >>> 3));
        }
        if (type == 3 || type == 4) {
            throw error(tagOffset, "field " + number, "protobuf groups (wire type " + type + ") are not supported");
        }
        if (type != VARINT && type != FIXED64 && type != LENGTH_DELIMITED && type != FIXED32) {
            throw error(tagOffset, "field " + number, "invalid wire type " + type);
        }
        field = number;
        wireType = type;
        return true;
    }

    /** Field number of the current field. */
    public int field() { return field; }

    /** Wire type of the current field. */
    public int wireType() { return wireType; }

    /** Absolute byte offset of the reader in the underlying segment. */
    public long position() { return pos; }

    /** The message path used in error messages, e.g. {@code ModelProto.graph.initializer[3]}. */
    public String path() { return path; }

    /** The current field's varint value (int64, uint64, enum and bool fields). */
    public long varint(String name) throws OnnxFormatException {
        expect(VARINT, name);
        return readRawVarint(name);
    }

    /** The current field as an int32: protobuf sign-extends negative int32 values to 64 bits. */
    public int int32(String name) throws OnnxFormatException {
        long v = varint(name);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw error(tagOffset, name, "value " + v + " does not fit an int32");
        }
        return (int) v;
    }

    /** The current 32-bit field as a float. */
    public float fixed32Float(String name) throws OnnxFormatException {
        expect(FIXED32, name);
        need(4, name);
        float v = Float.intBitsToFloat(data.get(I32, pos));
        pos += 4;
        return v;
    }

    /** The current 64-bit field as raw bits. */
    public long fixed64(String name) throws OnnxFormatException {
        expect(FIXED64, name);
        need(8, name);
        long v = data.get(I64, pos);
        pos += 8;
        return v;
    }

    /** The current length-delimited field as a slice of the underlying segment (no copy). */
    public MemorySegment bytes(String name) throws OnnxFormatException {
        expect(LENGTH_DELIMITED, name);
        long length = readLength(name);
        MemorySegment slice = data.asSlice(pos, length);
        pos += length;
        return slice;
    }

    /** The current length-delimited field decoded as UTF-8. */
    public String string(String name) throws OnnxFormatException {
        return new String(bytes(name).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** A reader over the nested message in the current field; {@code name} extends the error path. */
    public ProtoReader message(String name) throws OnnxFormatException {
        expect(LENGTH_DELIMITED, name);
        long length = readLength(name);
        ProtoReader nested = new ProtoReader(data, pos, pos + length, path + "." + name);
        pos += length;
        return nested;
    }

    /**
     * Appends the current repeated varint field to {@code out}, accepting both encodings a writer may
     * use: one element per tag, or a packed run in a length-delimited field.
     */
    public void varints(String name, LongStream.Builder out) throws OnnxFormatException {
        if (wireType == VARINT) {
            out.add(readRawVarint(name));
            return;
        }
        expect(LENGTH_DELIMITED, name);
        long length = readLength(name);
        long stop = pos + length;
        while (pos < stop) {
            out.add(readRawVarint(name, stop));
        }
    }

    /**
     * The current repeated fixed-width field (4 or 8 bytes per element) as a slice: a packed run, or one
     * element when the writer did not pack.
     */
    public MemorySegment fixedRun(String name, int width) throws OnnxFormatException {
        int single = width == 4 ? FIXED32 : FIXED64;
        if (wireType == single) {
            need(width, name);
            MemorySegment one = data.asSlice(pos, width);
            pos += width;
            return one;
        }
        expect(LENGTH_DELIMITED, name);
        long start = pos;
        long length = readLength(name);
        if (length % width != 0) {
            throw error(start, name, "packed length " + length + " is not a multiple of " + width + " bytes");
        }
        MemorySegment slice = data.asSlice(pos, length);
        pos += length;
        return slice;
    }

    /** Skips the current field's value. */
    public void skip() throws OnnxFormatException {
        String name = "field " + field;
        switch (wireType) {
            case VARINT -> readRawVarint(name);
            case FIXED64 -> { need(8, name); pos += 8; }
            case FIXED32 -> { need(4, name); pos += 4; }
            default -> {
                long length = readLength(name); // read before adding: it moves pos past the length prefix
                pos += length;
            }
        }
    }

    /** An exception naming this message's path, {@code name} and the offset of the current field's tag. */
    public OnnxFormatException error(String name, String problem) {
        return error(tagOffset, name, problem);
    }

    /** An exception naming this message's path, {@code name} and the absolute byte {@code offset}. */
    public OnnxFormatException error(long offset, String name, String problem) {
        return new OnnxFormatException(path + "." + name + " at byte " + offset + ": " + problem);
    }

    private void expect(int type, String name) throws OnnxFormatException {
        if (wireType != type) {
            throw error(tagOffset, name, "wire type " + wireType + " where " + type + " was expected");
        }
    }

    private void need(long bytes, String name) throws OnnxFormatException {
        if (end - pos < bytes) {
            throw error(pos, name, "needs " + bytes + " bytes but the message ends after " + (end - pos));
        }
    }

    private long readLength(String name) throws OnnxFormatException {
        long at = pos;
        long length = readRawVarint(name);
        if (length < 0 || length > end - pos) {
            throw error(at, name, "length " + length + " runs past the end of the message ("
                    + (end - pos) + " bytes left)");
        }
        return length;
    }

    private long readRawVarint(String name) throws OnnxFormatException {
        return readRawVarint(name, end);
    }

    private long readRawVarint(String name, long limit) throws OnnxFormatException {
        long start = pos;
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= limit) throw error(start, name, "varint runs past the end of the message");
            byte b = data.get(ValueLayout.JAVA_BYTE, pos++);
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) return result;
        }
        throw error(start, name, "varint longer than 10 bytes");
    }
}
