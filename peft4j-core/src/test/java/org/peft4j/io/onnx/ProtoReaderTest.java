package org.peft4j.io.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class ProtoReaderTest {

    private static ProtoReader reader(byte[] bytes) {
        return new ProtoReader(MemorySegment.ofArray(bytes), "Msg");
    }

    @Test
    void decodesVarintsOfEveryLength() throws Exception {
        long[] values = {0, 1, 127, 128, 300, 1L << 35, Long.MAX_VALUE, -1};
        ProtoWriter w = new ProtoWriter();
        for (long v : values) w.varint(1, v);
        ProtoReader r = reader(w.toBytes());
        for (long v : values) {
            assertTrue(r.next());
            assertEquals(1, r.field());
            assertEquals(ProtoReader.VARINT, r.wireType());
            assertEquals(v, r.varint("v"));
        }
        assertFalse(r.next());
        // 300 is the protobuf documentation's two-byte example
        assertArrayEquals(new byte[] {0x08, (byte) 0xAC, 0x02}, new ProtoWriter().varint(1, 300).toBytes());
    }

    @Test
    void negativeInt32IsSignExtendedToTenBytes() throws Exception {
        byte[] bytes = new ProtoWriter().varint(2, -5L).toBytes();
        assertEquals(11, bytes.length);
        ProtoReader r = reader(bytes);
        r.next();
        assertEquals(-5, r.int32("data_type"));
    }

    @Test
    void int32RejectsValuesThatDoNotFit() throws Exception {
        ProtoReader r = reader(new ProtoWriter().varint(2, 1L << 40).toBytes());
        r.next();
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> r.int32("data_type"));
        assertTrue(e.getMessage().contains("Msg.data_type at byte 0"), e.getMessage());
    }

    @Test
    void readsFixedWidthFieldsAndStrings() throws Exception {
        byte[] bytes = new ProtoWriter().fixed32(3, 1.5f).fixed64(4, 0x0102030405060708L).string(5, "héllo").toBytes();
        ProtoReader r = reader(bytes);
        r.next();
        assertEquals(1.5f, r.fixed32Float("f"));
        r.next();
        assertEquals(0x0102030405060708L, r.fixed64("x"));
        r.next();
        assertEquals("héllo", r.string("s"));
        assertFalse(r.next());
    }

    @Test
    void lengthDelimitedValuesAreSlicesOfTheInput() throws Exception {
        byte[] bytes = new ProtoWriter().varint(1, 7).bytes(2, new byte[] {9, 8, 7}).toBytes();
        MemorySegment all = MemorySegment.ofArray(bytes);
        ProtoReader r = new ProtoReader(all, "Msg");
        r.next();
        r.skip();
        r.next();
        MemorySegment slice = r.bytes("b");
        assertEquals(3, slice.byteSize());
        assertEquals(bytes, slice.heapBase().orElseThrow(), "no copy was made");
        bytes[4] = 42; // writing the input shows through the slice
        assertEquals(42, slice.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void skipsEveryWireType() throws Exception {
        byte[] bytes = new ProtoWriter().varint(9, 1L << 50).fixed64(10, 1).fixed32(11, 2f)
                .message(12, new ProtoWriter().varint(1, 3)).varint(1, 99).toBytes();
        ProtoReader r = reader(bytes);
        long found = -1;
        while (r.next()) {
            if (r.field() == 1) found = r.varint("x");
            else r.skip();
        }
        assertEquals(99, found);
    }

    @Test
    void nestedMessagesStopAtTheirOwnEnd() throws Exception {
        byte[] bytes = new ProtoWriter().message(1, new ProtoWriter().varint(1, 5).varint(2, 6)).varint(2, 7).toBytes();
        ProtoReader r = reader(bytes);
        r.next();
        ProtoReader inner = r.message("inner");
        assertEquals("Msg.inner", inner.path());
        int count = 0;
        while (inner.next()) {
            inner.skip();
            count++;
        }
        assertEquals(2, count);
        assertTrue(r.next());
        assertEquals(7, r.varint("after"));
    }

    @Test
    void acceptsPackedAndUnpackedRepeatedFields() throws Exception {
        byte[] bytes = new ProtoWriter().packedVarints(1, 2, 300, 4).varint(1, 5).packedFloats(4, 1f, 2f).fixed32(4, 3f)
                .toBytes();
        ProtoReader r = reader(bytes);
        long floatBytes = 0;
        LongStream.Builder all = LongStream.builder();
        while (r.next()) {
            if (r.field() == 1) r.varints("dims", all);
            else floatBytes += r.fixedRun("float_data", 4).byteSize();
        }
        assertArrayEquals(new long[] {2, 300, 4, 5}, all.build().toArray());
        assertEquals(12, floatBytes);
    }

    @Test
    void truncatedVarintNamesFieldAndOffset() {
        byte[] bytes = {0x08, (byte) 0x80, (byte) 0x80}; // field 1 varint whose continuation never ends
        ProtoReader r = reader(bytes);
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> {
            r.next();
            r.varint("ir_version");
        });
        assertEquals("Msg.ir_version at byte 1: varint runs past the end of the message", e.getMessage());
    }

    @Test
    void overlongVarintIsRejected() {
        byte[] bytes = new byte[12];
        bytes[0] = 0x08;
        for (int i = 1; i < 12; i++) bytes[i] = (byte) 0xFF;
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> {
            ProtoReader r = reader(bytes);
            r.next();
            r.varint("v");
        });
        assertTrue(e.getMessage().contains("longer than 10 bytes"), e.getMessage());
    }

    @Test
    void lengthPastTheEndIsRejected() {
        byte[] bytes = new ProtoWriter().varint(1, 1).tag(9, ProtoReader.LENGTH_DELIMITED).rawVarint(50).raw(new byte[] {1, 2, 3}).toBytes();
        ProtoReader r = reader(bytes);
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> {
            while (r.next()) {
                if (r.field() == 9) r.bytes("raw_data");
                else r.skip();
            }
        });
        assertEquals("Msg.raw_data at byte 3: length 50 runs past the end of the message (3 bytes left)", e.getMessage());
    }

    @Test
    void truncatedFixedWidthIsRejected() {
        byte[] bytes = {0x1D, 0, 0}; // field 3, fixed32, only two bytes follow
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> {
            ProtoReader r = reader(bytes);
            r.next();
            r.fixed32Float("f");
        });
        assertTrue(e.getMessage().startsWith("Msg.f at byte 1: needs 4 bytes"), e.getMessage());
    }

    @Test
    void badTagsAreRejected() {
        assertThrows(OnnxFormatException.class, () -> reader(new byte[] {0x00}).next(), "field number 0");
        OnnxFormatException group = assertThrows(OnnxFormatException.class, () -> reader(new byte[] {0x0B}).next());
        assertTrue(group.getMessage().contains("groups"), group.getMessage());
        OnnxFormatException bad = assertThrows(OnnxFormatException.class, () -> reader(new byte[] {0x0F}).next());
        assertTrue(bad.getMessage().contains("invalid wire type 7"), bad.getMessage());
    }

    @Test
    void wrongWireTypeForAFieldIsRejected() throws Exception {
        ProtoReader r = reader(new ProtoWriter().varint(8, 3).toBytes());
        r.next();
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> r.string("name"));
        assertEquals("Msg.name at byte 0: wire type 0 where 2 was expected", e.getMessage());
    }

    @Test
    void packedRunMustHoldWholeElements() throws Exception {
        ProtoReader r = reader(new ProtoWriter().bytes(4, new byte[6]).toBytes());
        r.next();
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> r.fixedRun("float_data", 4));
        assertTrue(e.getMessage().contains("not a multiple of 4"), e.getMessage());
    }
}
