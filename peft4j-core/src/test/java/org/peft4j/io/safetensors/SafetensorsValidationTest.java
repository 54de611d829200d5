package org.peft4j.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Damaged and hostile files: each must fail with a message naming the file, the tensor and the fault. */
class SafetensorsValidationTest {
    private static final String Q = "encoder.layer.0.attention.self.query.weight";

    @TempDir
    Path dir;

    private SafetensorsException rejected(byte[] bytes, String... mustContain) throws IOException {
        Path file = dir.resolve("model.safetensors");
        Files.write(file, bytes);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        String msg = e.getMessage();
        assertTrue(msg.startsWith(file.toString() + ": "), msg);
        for (String s : mustContain) assertTrue(msg.contains(s), "'" + s + "' missing from: " + msg);
        return e;
    }

    private SafetensorsException rejected(String json, int dataBytes, String... mustContain) throws IOException {
        return rejected(SafetensorsTest.craft(json, new byte[dataBytes]), mustContain);
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    @Test
    void sizeMismatchNamesTensorAndBothSizes() throws IOException {
        rejected("{" + entry(Q, "F32", "[3,3]", "[0,100]") + "}", 100,
                "tensor '" + Q + "'", "data_offsets [0,100] give 100 bytes but shape [3, 3] × F32 needs 36");
    }

    @Test
    void truncatedAtEveryCutPoint() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("w", SafetensorsTest.sample(DType.F32, 2, 3));
        tensors.put("b", SafetensorsTest.sample(DType.BF16, 3));
        Path good = dir.resolve("good.safetensors");
        Safetensors.write(good, tensors, Map.of("format", "pt"));
        byte[] bytes = Files.readAllBytes(good);
        long headerEnd = 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        for (int cut = 0; cut < bytes.length; cut++) {
            SafetensorsException e = rejected(Arrays.copyOf(bytes, cut));
            if (cut >= headerEnd) {
                // The data area is short: the message names a tensor whose bytes are cut off.
                String msg = e.getMessage();
                assertTrue(msg.contains("tensor 'w'") || msg.contains("tensor 'b'"), "cut " + cut + ": " + msg);
                assertTrue(msg.contains("run past the end of the data area"), "cut " + cut + ": " + msg);
            }
        }
    }

    @Test
    void offsetsPastTheEnd() throws IOException {
        rejected("{" + entry("w", "F32", "[2]", "[8,16]") + "}", 8, "tensor 'w'", "past the end of the data area (8 bytes)");
    }

    @Test
    void beginAfterEnd() throws IOException {
        rejected("{" + entry("w", "F32", "[0]", "[8,4]") + "}", 8, "tensor 'w'", "begin is after end");
    }

    @Test
    void overlappingRanges() throws IOException {
        rejected("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[4,12]") + "}", 12,
                "tensor 'b'", "overlap tensor 'a'");
        rejected("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}", 8,
                "overlap tensor '");
    }

    @Test
    void gapsAndUncoveredTrailingBytes() throws IOException {
        rejected("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", 12,
                "tensor 'b'", "bytes [4, 8)", "unused");
        rejected("{" + entry("a", "F32", "[1]", "[0,4]") + "}", 12, "tensor 'a'", "data area has 12 bytes", "cover only 4");
    }

    @Test
    void absurdHeaderLengths() throws IOException {
        byte[] bytes = new byte[64];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 60);
        rejected(bytes, "header length 1152921504606846976", "limit");
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L);
        rejected(bytes, "header length 18446744073709551615");
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(57);
        rejected(bytes, "header length 57 runs past the end of the file (64 bytes");
        rejected(new byte[5], "5 bytes, too short");
    }

    @Test
    void headerNotJsonOrNotAnObject() throws IOException {
        rejected("{\"w\": {\"dtype\": ", 0, "not valid JSON");
        rejected("[1, 2, 3]", 0, "must be a JSON object", "array");
        rejected("", 0, "must be a JSON object");
        rejected("{} trailing", 0, "not valid JSON");
        rejected(invalidUtf8(), "not valid JSON");
        rejected("{" + entry("w", "F32", "[1]", "[0,4]") + "," + entry("w", "F32", "[1]", "[4,8]") + "}", 8,
                "not valid JSON", "Duplicate field 'w'");
    }

    private static byte[] invalidUtf8() {
        byte[] json = "{\"w\":\"xx\"}".getBytes();
        json[6] = (byte) 0xff;
        json[7] = (byte) 0xfe;
        return ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json).array();
    }

    @Test
    void unknownDtype() throws IOException {
        rejected("{" + entry(Q, "F8_E4M3", "[2]", "[0,2]") + "}", 2, "tensor '" + Q + "'", "unknown dtype 'F8_E4M3'", "BF16");
    }

    @Test
    void badShapes() throws IOException {
        rejected("{" + entry("w", "F32", "[2,-3]", "[0,0]") + "}", 0, "tensor 'w'", "dimension 1 = -3 is negative");
        rejected("{" + entry("w", "F32", "[2.5]", "[0,10]") + "}", 10, "tensor 'w'", "non-negative integer");
        rejected("{" + entry("w", "F32", "[4294967296]", "[0,0]") + "}", 0, "tensor 'w'", "exceeds the largest dimension");
        rejected("{" + entry("w", "F32", "[2147483647,2147483647,2147483647]", "[0,8]") + "}", 8,
                "tensor 'w'", "needs more than 2^63");
        rejected("{" + entry("w", "F32", "\"2x2\"", "[0,16]") + "}", 16, "tensor 'w'", "shape must be an array");
        rejected("{" + entry("w", "F32", "[2]", "[0]") + "}", 8, "tensor 'w'", "[begin, end]");
        rejected("{" + entry("w", "F32", "[2]", "[-8,0]") + "}", 8, "tensor 'w'", "is negative");
        rejected("{" + entry("w", "F32", "[2]", "[0,99999999999999999999999]") + "}", 8, "tensor 'w'", "too large");
    }

    @Test
    void missingOrMalformedFields() throws IOException {
        rejected("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "missing \"dtype\"");
        rejected("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "missing \"shape\"");
        rejected("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'w'", "missing \"data_offsets\"");
        rejected("{\"w\":[1,2]}", 0, "tensor 'w'", "must be an object");
        rejected("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "dtype must be a string");
    }

    @Test
    void malformedMetadata() throws IOException {
        rejected("{\"__metadata__\":{\"format\":1}}", 0, "__metadata__ entry 'format' must be a string");
        rejected("{\"__metadata__\":[\"pt\"]}", 0, "__metadata__ must be an object");
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.safetensors");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(missing));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such file"), e.getMessage());
        e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(dir));
        assertTrue(e.getMessage().startsWith(dir.toString()), e.getMessage());
    }
}
