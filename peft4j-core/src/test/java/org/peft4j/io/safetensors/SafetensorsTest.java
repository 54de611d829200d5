package org.peft4j.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class SafetensorsTest {
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /** A tensor of {@code dtype} holding 0, 1, 2, ... (cycled through a few signed values for integers). */
    static Tensor sample(DType dtype, int... shape) {
        Tensor t = Tensor.zeros(dtype, shape);
        for (long i = 0; i < t.numel(); i++) {
            double v = switch (dtype) {
                case BOOL -> i % 2;
                case U8 -> (i * 37) % 256;
                case I8 -> (i * 37) % 256 - 128;
                case F32, F64, BF16, F16 -> (i - 3) * 0.5;
                default -> (i - 3) * 1000;
            };
            t.setFlat(i, v);
        }
        return t;
    }

    @Test
    void roundTripsEveryDtypeWithEmptyAndScalarTensors() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType d : DType.values()) {
            tensors.put("layer." + d + ".weight", sample(d, 3, 5));
            tensors.put("layer." + d + ".empty", sample(d, 2, 0, 3));
            tensors.put("layer." + d + ".scalar", sample(d));
        }
        long big = (1L << 60) + 1; // not representable as a double: must survive as raw bytes
        tensors.put("big", Tensor.of(new long[] {big, -big}, 2));
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, tensors, Map.of("format", "pt", "note", "ünïcode \"quoted\""));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.copyOf(tensors.keySet()), f.names(), "header keeps insertion order");
            assertEquals(Map.of("format", "pt", "note", "ünïcode \"quoted\""), f.metadata());
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor expected = e.getValue(), actual = f.tensor(e.getKey());
                assertEquals(expected.dtype(), actual.dtype(), e.getKey());
                assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
                assertArrayEquals(expected.toDoubleArray(), actual.toDoubleArray(), e.getKey());
                assertEquals(expected.dtype(), f.entry(e.getKey()).dtype());
            }
            Tensor b = f.tensor("big");
            assertEquals(big, b.segment().get(I64_LE, 0));
            assertEquals(-big, b.segment().get(I64_LE, 8));
            assertTrue(f.tensor("layer.F32.weight").segment().isMapped(), "tensors are views of the mapping");
        }
    }

    @Test
    void dataIsAlignedToElementSize() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("a", sample(DType.U8, 3));
        tensors.put("b", sample(DType.F32, 3));
        tensors.put("c", sample(DType.BF16, 1));
        tensors.put("d", sample(DType.F64, 2));
        Path file = dir.resolve("aligned.safetensors");
        Safetensors.write(file, tensors);
        long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("a", "b", "c", "d"), f.names());
            for (SafetensorsEntry e : f.entries()) {
                assertEquals(0, (8 + headerLength + e.dataBegin()) % e.dtype().byteSize(), e.toString());
            }
        }
    }

    @Test
    void writesLogicalValuesOfViews() throws IOException {
        Tensor base = sample(DType.F32, 4, 6);
        Tensor bf = sample(DType.BF16, 3, 4);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("transposed", base.transpose(0, 1));
        tensors.put("narrowed", base.narrow(1, 2, 3));
        tensors.put("offsetRow", base.select(0, 2));
        tensors.put("expanded", Tensor.of(new float[] {1, 2, 3}, 1, 3).expand(4, 3));
        tensors.put("permuted3d", sample(DType.F64, 2, 3, 4).permute(2, 0, 1));
        tensors.put("bf16Transposed", bf.transpose(0, 1));
        Path file = dir.resolve("views.safetensors");
        Safetensors.write(file, tensors);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor read = f.tensor(e.getKey());
                assertEquals(e.getValue().dtype(), read.dtype());
                assertArrayEquals(e.getValue().shape(), read.shape(), e.getKey());
                assertArrayEquals(e.getValue().toDoubleArray(), read.toDoubleArray(), e.getKey());
            }
        }
    }

    @Test
    void readsAFileLaidOutAsPythonWritesIt() throws IOException {
        // Exactly what safetensors.torch.save_file writes for {"bias": f32[2], "weight": bf16[2,2]}.
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"weight\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}";
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        data.putFloat(1.5f).putFloat(-2f);
        for (float v : new float[] {1f, 2f, -0.5f, 3.25f}) data.putShort((short) (Float.floatToIntBits(v) >>> 16));
        Path file = dir.resolve("python.safetensors");
        Files.write(file, craft(json, data.array()));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertArrayEquals(new float[] {1.5f, -2f}, f.tensor("bias").toFloatArray());
            Tensor w = f.tensor("weight");
            assertEquals(DType.BF16, w.dtype());
            assertArrayEquals(new int[] {2, 2}, w.shape());
            assertArrayEquals(new float[] {1f, 2f, -0.5f, 3.25f}, w.toFloatArray());
            assertEquals(List.of("bias", "weight"), List.copyOf(f.tensors().keySet()));
        }
    }

    /**
     * Bytes written by the safetensors library itself (0.8.0), from Python:
     * <pre>
     * save_file({"f32": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, "f64": np.array([1.5, -2.25]),
     *            "f16": np.array([0.5, -1.0, 65504], dtype=np.float16), "i64": np.array([2**60 + 1, -5]),
     *            "i32": np.array([[7]], dtype=np.int32), "i8": np.array([-128, 127], dtype=np.int8),
     *            "u8": np.array([255, 0, 1], dtype=np.uint8), "b": np.array([True, False]),
     *            "empty": np.zeros((2, 0), dtype=np.float32), "scalar": np.array(3.5, dtype=np.float32)},
     *           path, metadata={"format": "np"})
     * </pre>
     * (its header is padded with spaces, and the data is laid out by decreasing alignment).
     */
    @Test
    void readsAFileWrittenByTheSafetensorsLibrary() throws IOException {
        String base64 =
              "YAIAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJucCJ9LCJpNjQiOnsiZHR5cGUiOiJJNjQiLCJzaGFwZSI6WzJd"
            + "LCJkYXRhX29mZnNldHMiOlswLDE2XX0sImY2NCI6eyJkdHlwZSI6IkY2NCIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6"
            + "WzE2LDMyXX0sImVtcHR5Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDBdLCJkYXRhX29mZnNldHMiOlszMiwzMl19LCJm"
            + "MzIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzIsM10sImRhdGFfb2Zmc2V0cyI6WzMyLDU2XX0sInNjYWxhciI6eyJkdHlw"
            + "ZSI6IkYzMiIsInNoYXBlIjpbXSwiZGF0YV9vZmZzZXRzIjpbNTYsNjBdfSwiaTMyIjp7ImR0eXBlIjoiSTMyIiwic2hhcGUi"
            + "OlsxLDFdLCJkYXRhX29mZnNldHMiOls2MCw2NF19LCJmMTYiOnsiZHR5cGUiOiJGMTYiLCJzaGFwZSI6WzNdLCJkYXRhX29m"
            + "ZnNldHMiOls2NCw3MF19LCJpOCI6eyJkdHlwZSI6Ikk4Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbNzAsNzJdfSwi"
            + "dTgiOnsiZHR5cGUiOiJVOCIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzcyLDc1XX0sImIiOnsiZHR5cGUiOiJCT09M"
            + "Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbNzUsNzddfX0gIAEAAAAAAAAQ+/////////8AAAAAAAD4PwAAAAAAAALA"
            + "AAAgwAAAwL8AAAC/AAAAPwAAwD8AACBAAABgQAcAAAAAOAC8/3uAf/8AAQEA";
        Path file = dir.resolve("numpy.safetensors");
        Files.write(file, java.util.Base64.getDecoder().decode(base64));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "np"), f.metadata());
            assertArrayEquals(new float[] {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}, f.tensor("f32").toFloatArray());
            assertArrayEquals(new int[] {2, 3}, f.tensor("f32").shape());
            assertArrayEquals(new double[] {1.5, -2.25}, f.tensor("f64").toDoubleArray());
            assertArrayEquals(new float[] {0.5f, -1f, 65504f}, f.tensor("f16").toFloatArray());
            assertEquals((1L << 60) + 1, f.tensor("i64").segment().get(I64_LE, 0));
            assertEquals(-5, f.tensor("i64").getLong(1));
            assertEquals(7, f.tensor("i32").getLong(0, 0));
            assertArrayEquals(new double[] {-128, 127}, f.tensor("i8").toDoubleArray());
            assertArrayEquals(new double[] {255, 0, 1}, f.tensor("u8").toDoubleArray());
            assertArrayEquals(new double[] {1, 0}, f.tensor("b").toDoubleArray());
            assertEquals(DType.BOOL, f.tensor("b").dtype());
            assertArrayEquals(new int[] {2, 0}, f.tensor("empty").shape());
            assertArrayEquals(new int[0], f.tensor("scalar").shape());
            assertEquals(3.5, f.tensor("scalar").item());
        }
    }

    @Test
    void headerWithoutTensorsIsValid() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        Safetensors.write(file, Map.of(), Map.of("format", "pt"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertTrue(f.names().isEmpty());
            assertEquals("pt", f.metadata().get("format"));
        }
    }

    @Test
    void tensorsAreUnusableAfterClose() throws IOException {
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, Map.of("w", sample(DType.F32, 2)));
        SafetensorsFile f = SafetensorsFile.open(file);
        Tensor w = f.tensor("w");
        f.close();
        f.close();
        assertThrows(IllegalStateException.class, () -> f.tensor("w"));
        assertThrows(IllegalStateException.class, () -> w.getFlat(0));
    }

    @Test
    void missingTensorNamesFileAndTensor() throws IOException {
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, Map.of("w", sample(DType.F32, 2)));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> f.tensor("bias"));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("'bias'"), e.getMessage());
        }
    }

    @Test
    void rejectsReservedAndNullNames() {
        Path file = dir.resolve("bad.safetensors");
        Map<String, Tensor> reserved = Map.of("__metadata__", sample(DType.F32, 1));
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.write(file, reserved));
        assertTrue(e.getMessage().contains("'__metadata__'"), e.getMessage());
        Map<String, Tensor> nullTensor = new LinkedHashMap<>();
        nullTensor.put("w", null);
        assertThrows(SafetensorsException.class, () -> Safetensors.write(file, nullTensor));
        assertTrue(Files.notExists(file));
    }

    @Test
    void failedWriteKeepsPreviousFileAndLeavesNoTemporary() throws IOException {
        Path file = dir.resolve("adapter.safetensors");
        Safetensors.write(file, Map.of("w", sample(DType.F32, 3)), Map.of("version", "1"));
        byte[] before = Files.readAllBytes(file);

        // A tensor whose storage can no longer be read: the failure happens midway through the data.
        Tensor dead;
        try (Arena arena = Arena.ofConfined()) {
            dead = Tensor.wrap(arena.allocate(4 * 1000), DType.F32, 1000);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("a", sample(DType.F32, 50_000)); // more than the write buffer, so bytes hit the disk first
        tensors.put("b", dead);
        assertThrows(IllegalStateException.class, () -> Safetensors.write(file, tensors, Map.of("version", "2")));

        assertArrayEquals(before, Files.readAllBytes(file));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals("1", f.metadata().get("version"));
        }
    }

    @Test
    void overwritingAMappedFileKeepsOldViewsValid() throws IOException {
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, Map.of("w", Tensor.of(new float[] {1, 2}, 2)));
        try (SafetensorsFile old = SafetensorsFile.open(file)) {
            Tensor w = old.tensor("w");
            Safetensors.write(file, Map.of("w", Tensor.of(new float[] {7, 8}, 2)));
            assertArrayEquals(new float[] {1, 2}, w.toFloatArray(), "rename replaces the file, not its bytes");
            try (SafetensorsFile fresh = SafetensorsFile.open(file)) {
                assertArrayEquals(new float[] {7, 8}, fresh.tensor("w").toFloatArray());
            }
        }
    }

    /** An 8-byte little-endian header length, the header, then the data, as the format specifies. */
    static byte[] craft(String json, byte[] data) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).put(header).put(data).array();
    }
}
