package org.peft4j.io.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class OnnxModelTest {

    /** A small graph: y = MatMul(x, w) + b, with attributes of each kind on the MatMul and typed-data initializers. */
    private static byte[] sampleModel() {
        ProtoWriter attrs = new ProtoWriter()
                .message(5, new ProtoWriter().string(1, "alpha").varint(20, 1).fixed32(2, 0.5f))
                .message(5, new ProtoWriter().string(1, "axis").varint(20, 2).varint(3, -1))
                .message(5, new ProtoWriter().string(1, "mode").varint(20, 3).string(4, "linear"))
                .message(5, new ProtoWriter().string(1, "perm").varint(20, 7).packedVarints(8, 1, 0))
                .message(5, new ProtoWriter().string(1, "scales").varint(20, 6).packedFloats(7, 1f, 2f));
        ProtoWriter matmul = ProtoWriter.node("/dense/MatMul", "MatMul", new String[] {"x", "w"}, "xw");
        matmul.raw(attrs.toBytes());
        ProtoWriter graph = new ProtoWriter()
                .message(1, matmul)
                .message(1, ProtoWriter.node("/dense/Add", "Add", new String[] {"xw", "dense.bias"}, "y"))
                .string(2, "g")
                .message(5, ProtoWriter.floatTensor("w", new float[] {1, 2, 3, 4, 5, 6}, 2, 3))
                .message(5, new ProtoWriter().varint(1, 3).varint(2, OnnxDataType.FLOAT.code()).string(8, "dense.bias")
                        .packedFloats(4, 0.1f, 0.2f, 0.3f))
                .message(5, new ProtoWriter().packedVarints(1, 1, 2).varint(2, OnnxDataType.INT64.code()).string(8, "ids")
                        .packedVarints(7, 7, -2))
                .message(5, new ProtoWriter().varint(1, 2).varint(2, OnnxDataType.INT32.code()).string(8, "small")
                        .varint(5, 5).varint(5, -6))
                .message(5, new ProtoWriter().varint(2, OnnxDataType.DOUBLE.code()).string(8, "scalar")
                        .bytes(10, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(2.25).array()))
                .message(11, new ProtoWriter().string(1, "x"))
                .message(12, new ProtoWriter().string(1, "y"));
        return ProtoWriter.model(graph);
    }

    @Test
    void parsesModelGraphNodesAndAttributes() throws Exception {
        OnnxModel m = OnnxModel.parse(MemorySegment.ofArray(sampleModel()));
        assertEquals(8, m.irVersion());
        assertEquals("test", m.producerName());
        assertEquals(Map.of("", 17L), m.opsetImports());
        OnnxGraph g = m.graph();
        assertEquals("g", g.name());
        assertEquals(List.of("x"), g.inputs());
        assertEquals(List.of("y"), g.outputs());
        assertEquals(2, g.nodes().size());
        OnnxNode mm = g.nodes().getFirst();
        assertEquals("MatMul", mm.opType());
        assertEquals("/dense/MatMul", mm.name());
        assertEquals(List.of("x", "w"), mm.inputs());
        assertEquals(List.of("xw"), mm.outputs());
        assertEquals(0.5f, mm.attribute("alpha").asFloat());
        assertEquals(-1, mm.attribute("axis").asInt());
        assertEquals("linear", mm.attribute("mode").asString());
        assertArrayEquals(new long[] {1, 0}, mm.attribute("perm").asInts());
        assertArrayEquals(new float[] {1f, 2f}, mm.attribute("scales").asFloats());
        assertThrows(IllegalStateException.class, () -> mm.attribute("axis").asFloat());
        assertSame(mm, g.consumers("w").getFirst());
        assertSame(mm, g.producer("xw"));
        assertEquals("Add", g.consumers("xw").getFirst().opType());
        assertTrue(g.consumers("nothing").isEmpty());
    }

    @Test
    void decodesInitializersOfEachEncoding() throws Exception {
        byte[] bytes = sampleModel();
        OnnxGraph g = OnnxModel.parse(MemorySegment.ofArray(bytes)).graph();
        assertEquals(List.of("w", "dense.bias", "ids", "small", "scalar"), List.copyOf(g.initializers().keySet()));

        OnnxTensor w = g.initializer("w");
        assertEquals(OnnxDataType.FLOAT, w.type());
        assertArrayEquals(new long[] {2, 3}, w.dims());
        assertSame(bytes, w.data().heapBase().orElseThrow(), "raw_data is a view of the input");
        Tensor wt = w.toTensor();
        assertEquals(DType.F32, wt.dtype());
        assertArrayEquals(new int[] {2, 3}, wt.shape());
        assertEquals(6.0, wt.get(1, 2));

        assertArrayEquals(new float[] {0.1f, 0.2f, 0.3f}, g.initializer("dense.bias").toFloatArray());
        Tensor ids = g.initializer("ids").toTensor();
        assertEquals(DType.I64, ids.dtype());
        assertArrayEquals(new long[] {7, -2}, ids.toLongArray());
        Tensor small = g.initializer("small").toTensor();
        assertEquals(DType.I32, small.dtype());
        assertArrayEquals(new long[] {5, -6}, small.toLongArray());
        OnnxTensor scalar = g.initializer("scalar");
        assertEquals(0, scalar.dims().length);
        assertEquals(1, scalar.numel());
        assertEquals(2.25, scalar.toTensor().item());
    }

    @Test
    void mappedFileAndStreamGiveTheSameModel(@TempDir Path dir) throws Exception {
        byte[] bytes = sampleModel();
        Path file = dir.resolve("m.onnx");
        Files.write(file, bytes);
        OnnxModel mapped = OnnxModel.read(file);
        OnnxModel streamed = OnnxModel.read(new ByteArrayInputStream(bytes));
        assertArrayEquals(mapped.graph().initializer("w").toFloatArray(), streamed.graph().initializer("w").toFloatArray());
        assertEquals(mapped.graph().nodes().toString(), streamed.graph().nodes().toString());
    }

    @Test
    void rawDataOfTheWrongSizeNamesTensorFieldAndOffset() {
        ProtoWriter bad = new ProtoWriter().varint(1, 2).varint(1, 3).varint(2, OnnxDataType.FLOAT.code()).string(8, "w")
                .bytes(9, new byte[20]);
        byte[] bytes = ProtoWriter.model(new ProtoWriter().message(5, bad));
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(MemorySegment.ofArray(bytes)));
        assertTrue(e.getMessage().matches("ModelProto\\.graph\\.initializer\\[0]\\.raw_data at byte \\d+: tensor 'w' of type "
                + "FLOAT and shape \\[2, 3] needs 24 bytes of data but has 20"), e.getMessage());
    }

    @Test
    void typedDataMustMatchTheDataType() {
        ProtoWriter bad = new ProtoWriter().varint(1, 1).varint(2, OnnxDataType.INT64.code()).string(8, "t").packedFloats(4, 1f);
        byte[] bytes = ProtoWriter.model(new ProtoWriter().message(5, bad));
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(MemorySegment.ofArray(bytes)));
        assertTrue(e.getMessage().contains("tensor 't' has data_type INT64, which float_data cannot hold"), e.getMessage());
    }

    @Test
    void externalDataAndDuplicatesAreRejected() {
        ProtoWriter external = new ProtoWriter().varint(1, 4).varint(2, 1).string(8, "big")
                .message(13, new ProtoWriter().string(1, "location").string(2, "weights.bin")).varint(14, 1);
        OnnxFormatException e = assertThrows(OnnxFormatException.class,
                () -> OnnxModel.parse(MemorySegment.ofArray(ProtoWriter.model(new ProtoWriter().message(5, external)))));
        assertTrue(e.getMessage().contains("tensor 'big' keeps its data in an external file"), e.getMessage());

        ProtoWriter t = ProtoWriter.floatTensor("same", new float[] {1}, 1);
        byte[] dup = ProtoWriter.model(new ProtoWriter().message(5, t).message(5, t));
        OnnxFormatException d = assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(MemorySegment.ofArray(dup)));
        assertTrue(d.getMessage().contains("initializer[1] at byte") && d.getMessage().contains("duplicate initializer name 'same'"),
                d.getMessage());
    }

    @Test
    void aModelWithoutGraphIsRejected() {
        byte[] bytes = new ProtoWriter().varint(1, 8).toBytes();
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(MemorySegment.ofArray(bytes)));
        assertTrue(e.getMessage().contains("the model has no graph"), e.getMessage());
    }

    /** The graph is the model's last field, so every proper prefix lacks it or cuts it short. */
    @Test
    void everyTruncationFailsWithAFormatError() {
        byte[] bytes = sampleModel();
        for (int cut = 0; cut < bytes.length; cut++) {
            MemorySegment prefix = MemorySegment.ofArray(Arrays.copyOf(bytes, cut));
            int at = cut;
            assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(prefix), "cut at " + at);
        }
    }

    @Test
    void corruptedBytesNeverEscapeAsOtherExceptions() {
        byte[] original = sampleModel();
        Random random = new Random(7);
        for (int trial = 0; trial < 3000; trial++) {
            byte[] bytes = original.clone();
            for (int k = 0; k < 1 + random.nextInt(3); k++) bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
            try {
                OnnxModel.parse(MemorySegment.ofArray(bytes));
            } catch (OnnxFormatException expected) {
                // a clear format error is the only acceptable failure
            }
        }
    }
}
