package org.peft4j.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class SafetensorsCheckpointTest {
    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    private final Tensor embeddings = SafetensorsTest.sample(DType.F32, 4, 3);
    private final Tensor query = SafetensorsTest.sample(DType.BF16, 3, 3);
    private final Tensor bias = SafetensorsTest.sample(DType.F32, 3);

    private void writeShards() throws IOException {
        Safetensors.write(dir.resolve(SHARD1), Map.of("embeddings.weight", embeddings), Map.of("format", "pt"));
        Map<String, Tensor> second = new LinkedHashMap<>();
        second.put("layer.0.query.weight", query);
        second.put("layer.0.query.bias", bias);
        Safetensors.write(dir.resolve(SHARD2), second, Map.of("format", "pt"));
    }

    private Path writeIndex(String weightMap) throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\": {\"total_size\": 96}, \"weight_map\": {" + weightMap + "}}");
        return index;
    }

    private static final String GOOD_MAP = "\"embeddings.weight\": \"" + SHARD1 + "\", "
            + "\"layer.0.query.weight\": \"" + SHARD2 + "\", \"layer.0.query.bias\": \"" + SHARD2 + "\"";

    @Test
    void mergesShardsOpeningEachOnce() throws IOException {
        writeShards();
        writeIndex(GOOD_MAP);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(dir)) {
            assertEquals(List.of("embeddings.weight", "layer.0.query.weight", "layer.0.query.bias"),
                    List.copyOf(ckpt.tensors().keySet()));
            assertEquals(2, ckpt.files().size());
            assertEquals(Map.of("total_size", "96"), ckpt.metadata());
            assertArrayEquals(embeddings.toDoubleArray(), ckpt.tensor("embeddings.weight").toDoubleArray());
            assertArrayEquals(query.toDoubleArray(), ckpt.tensor("layer.0.query.weight").toDoubleArray());
            assertEquals(DType.BF16, ckpt.tensor("layer.0.query.weight").dtype());
            assertArrayEquals(bias.toDoubleArray(), ckpt.tensors().get("layer.0.query.bias").toDoubleArray());
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> ckpt.tensor("pooler.weight"));
            assertTrue(e.getMessage().contains("'pooler.weight'") && e.getMessage().contains("index.json"), e.getMessage());
        }
    }

    @Test
    void singleFileIsPreferredAndOpenedDirectly() throws IOException {
        Safetensors.write(dir.resolve("model.safetensors"), Map.of("w", bias), Map.of("format", "pt"));
        writeIndex(GOOD_MAP); // would fail if read: the shards do not exist
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(dir)) {
            assertEquals(List.of("w"), List.copyOf(ckpt.tensors().keySet()));
            assertEquals("pt", ckpt.metadata().get("format"));
        }
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(dir.resolve("model.safetensors"))) {
            assertEquals(1, ckpt.files().size());
        }
    }

    @Test
    void folderWithoutCheckpoint() {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("neither model.safetensors nor model.safetensors.index.json"), e.getMessage());
    }

    @Test
    void missingShard() throws IOException {
        writeShards();
        Files.delete(dir.resolve(SHARD2));
        Path index = writeIndex(GOOD_MAP);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        assertTrue(e.getMessage().startsWith(index + ": tensor 'layer.0.query.weight': shard '" + SHARD2 + "' does not exist"),
                e.getMessage());
    }

    @Test
    void tensorListedButAbsentFromShard() throws IOException {
        writeShards();
        Path index = writeIndex(GOOD_MAP + ", \"layer.0.key.weight\": \"" + SHARD1 + "\"");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        assertTrue(e.getMessage().contains("tensor 'layer.0.key.weight'") && e.getMessage().contains(SHARD1)
                && e.getMessage().contains("has no tensor of this name"), e.getMessage());
    }

    @Test
    void damagedShardNamesTheShard() throws IOException {
        writeShards();
        byte[] bytes = Files.readAllBytes(dir.resolve(SHARD2));
        Files.write(dir.resolve(SHARD2), java.util.Arrays.copyOf(bytes, bytes.length - 1));
        Path index = writeIndex(GOOD_MAP);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        assertTrue(e.getMessage().startsWith(dir.resolve(SHARD2).toString()), e.getMessage());
    }

    @Test
    void shardsOutsideTheFolderAreRefused() throws IOException {
        writeShards();
        for (String shard : new String[] {"../" + SHARD1, "/etc/passwd", "", "."}) {
            Path index = writeIndex("\"w\": \"" + shard + "\"");
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
            assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains("not a file inside"), e.getMessage());
        }
    }

    @Test
    void malformedIndex() throws IOException {
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\": [1]}");
        assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        Files.writeString(index, "not json");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        assertTrue(e.getMessage().startsWith(index + ": not valid JSON"), e.getMessage());
        Files.writeString(index, "{\"weight_map\": {\"w\": 3}}");
        e = assertThrows(SafetensorsException.class, () -> SafetensorsCheckpoint.openIndex(index));
        assertTrue(e.getMessage().contains("tensor 'w': shard must be a file name"), e.getMessage());
    }
}
