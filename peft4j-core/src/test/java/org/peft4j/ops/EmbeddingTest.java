package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.BFloat16;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class EmbeddingTest {
    private static final int V = 7, H = 5;

    /** Table value at (row, col); multiples of 1/4 below 32, exact in BF16, F16 and F32. */
    private static double entry(int row, int col) { return row * 1.5 - col * 0.25 + 0.75; }

    private static Tensor table(DType dtype) {
        Tensor t = Tensor.zeros(dtype, V, H);
        for (int r = 0; r < V; r++) for (int c = 0; c < H; c++) t.set(entry(r, c), r, c);
        return t;
    }

    private static final long[] IDS = {3, 0, 6, 3, 3, 1};

    private static void assertRows(Tensor out, long[] ids) {
        assertArrayEquals(new int[] {2, 3, H}, out.shape());
        for (int t = 0; t < ids.length; t++) {
            for (int c = 0; c < H; c++) assertEquals(entry((int) ids[t], c), out.getFlat((long) t * H + c), 0.0);
        }
    }

    @Test
    void looksUpRowsOfEveryStorageType() {
        Tensor ids = Tensor.of(IDS, 2, 3);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            Tensor out = Embedding.lookup(table(dtype), ids);
            assertEquals(dtype == DType.F64 ? DType.F64 : DType.F32, out.dtype());
            assertRows(out, IDS);
        }
        Tensor i32 = Tensor.zeros(DType.I32, 2, 3);
        for (int t = 0; t < IDS.length; t++) i32.setFlat(t, IDS[t]);
        assertRows(Embedding.lookup(table(DType.BF16), i32), IDS);
        // a transposed [H, V] table viewed as [V, H]
        Tensor transposed = Tensor.zeros(H, V);
        for (int r = 0; r < V; r++) for (int c = 0; c < H; c++) transposed.set(entry(r, c), c, r);
        assertRows(Embedding.lookup(transposed.transpose(0, 1), ids), IDS);
        assertRows(Embedding.lookup(table(DType.BF16).transpose(0, 1).transpose(0, 1), ids), IDS);
    }

    @Test
    void readsMemoryMappedBf16(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("table.bin");
        MemorySegment bytes = MemorySegment.ofArray(new byte[V * H * 2]);
        ValueLayout.OfShort le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < V; r++) {
            for (int c = 0; c < H; c++) bytes.setAtIndex(le, (long) r * H + c, BFloat16.fromFloat((float) entry(r, c)));
        }
        Files.write(file, bytes.toArray(ValueLayout.JAVA_BYTE));
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            Tensor weight = Tensor.wrap(mapped, DType.BF16, V, H);
            assertRows(Embedding.lookup(weight, Tensor.of(IDS, 2, 3)), IDS);
        }
    }

    @Test
    void trainableTableGetsScatteredGradient() {
        Tensor weight = GradCheck.randn(1, V, H);
        Tensor ids = Tensor.of(IDS, 2, 3);
        GradCheck.check("embedding", in -> Embedding.lookup(in[0], ids), weight);
        GradCheck.check("embedding of transposed table",
                in -> Embedding.lookup(in[0].transpose(0, 1), Tensor.of(new long[] {4, 4, 0}, 3)), GradCheck.randn(2, 1, 5));

        Tensor w = Tensor.zeros(DType.F64, V, H).requiresGrad(true);
        Tensor out = Embedding.lookup(w, ids);
        Autograd.backward(out, Tensor.full(DType.F64, 1.0, out.shape()));
        double[] g = w.grad().toDoubleArray();
        for (int c = 0; c < H; c++) {
            assertEquals(3, g[3 * H + c]);
            assertEquals(1, g[0 * H + c]);
            assertEquals(0, g[2 * H + c]);
        }
        Tensor w32 = Tensor.zeros(V, H).requiresGrad(true);
        Tensor out32 = Embedding.lookup(w32, ids);
        Autograd.backward(out32, Tensor.ones(out32.shape()));
        assertEquals(DType.F32, w32.grad().dtype());
        assertArrayEquals(g, w32.grad().toDoubleArray());
    }

    @Test
    void frozenTableRecordsNothing() {
        assertNull(Embedding.lookup(table(DType.F32), Tensor.of(IDS, 6)).gradFn());
        assertNull(Embedding.lookup(table(DType.BF16), Tensor.of(IDS, 6)).gradFn());
    }

    @Test
    void largeLookupMatchesRows() {
        Tensor weight = ShapesTest.randomF32(3, 301, 67);
        long[] ids = new long[1000];
        for (int t = 0; t < ids.length; t++) ids[t] = (t * 37L) % 301;
        Tensor out = Embedding.lookup(weight, Tensor.of(ids, 10, 100));
        Tensor outF64 = Embedding.lookup(weight.to(DType.F64), Tensor.of(ids, 10, 100));
        assertArrayEquals(outF64.toFloatArray(), out.toFloatArray());
        for (int t = 0; t < ids.length; t += 97) {
            for (int c = 0; c < 67; c++) assertEquals(weight.get((int) ids[t], c), out.getFlat((long) t * 67 + c), 0.0);
        }
    }

    @Test
    void outOfRangeIdsNameIdPositionAndVocab() {
        Tensor ids = Tensor.of(new long[] {1, 2, 3, 9}, 2, 2);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> Embedding.lookup(table(DType.F32), ids));
        assertTrue(e.getMessage().contains("id 9") && e.getMessage().contains("[1, 1]")
                && e.getMessage().contains("V = 7"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> Embedding.lookup(table(DType.F32), Tensor.of(new long[] {-1}, 1)));
        assertThrows(IllegalArgumentException.class, () -> Embedding.lookup(table(DType.F32), Tensor.zeros(2)));
        assertThrows(IllegalArgumentException.class, () -> Embedding.lookup(Tensor.zeros(3), Tensor.of(new long[] {0}, 1)));
    }
}
