package org.peft4j.io.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * The tensors of a checkpoint that is either one safetensors file or a set of shards listed by a
 * Hugging Face index ({@code model.safetensors.index.json}, whose {@code weight_map} maps each tensor
 * name to its shard file). Each shard is opened once; {@link #tensors()} merges them into one
 * name → tensor map. Closing the checkpoint closes every shard.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {
    /** Largest index file accepted; a real index with a million tensors is still far below this. */
    static final long MAX_INDEX_LENGTH = 100_000_000L;

    private final Path source;
    private final List<SafetensorsFile> files;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsCheckpoint(Path source, List<SafetensorsFile> files, Map<String, Tensor> tensors,
                                  Map<String, String> metadata) {
        this.source = source;
        this.files = List.copyOf(files);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /**
     * Opens a checkpoint folder ({@code model.safetensors}, else {@code model.safetensors.index.json}), an
     * index file (a name ending in {@code .index.json}) or a single safetensors file.
     */
    public static SafetensorsCheckpoint open(Path path) throws IOException {
        if (Files.isDirectory(path)) return openFolder(path, "model");
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".index.json")) return openIndex(path);
        return openFile(path);
    }

    /**
     * Opens {@code <baseName>.safetensors} in {@code dir}, or the shards listed by
     * {@code <baseName>.safetensors.index.json} when there is no single file.
     */
    public static SafetensorsCheckpoint openFolder(Path dir, String baseName) throws IOException {
        Path single = dir.resolve(baseName + ".safetensors");
        Path index = dir.resolve(baseName + ".safetensors.index.json");
        if (Files.isRegularFile(single)) return openFile(single);
        if (Files.isRegularFile(index)) return openIndex(index);
        throw new SafetensorsException(dir + ": contains neither " + single.getFileName() + " nor " + index.getFileName());
    }

    /** A checkpoint of one file. */
    public static SafetensorsCheckpoint openFile(Path file) throws IOException {
        SafetensorsFile f = SafetensorsFile.open(file);
        return new SafetensorsCheckpoint(file, List.of(f), new LinkedHashMap<>(f.tensors()),
                new LinkedHashMap<>(f.metadata()));
    }

    /**
     * A sharded checkpoint: validates the index, opens every shard it names once (they must lie in the
     * index's folder) and checks that each listed tensor is in its shard. The merged map holds exactly
     * the tensors the index lists, in index order; {@link #metadata()} is the index's {@code metadata}.
     */
    public static SafetensorsCheckpoint openIndex(Path indexPath) throws IOException {
        String index = indexPath.toString();
        JsonNode root = readIndex(indexPath);
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new SafetensorsException(index + ": \"weight_map\" must be an object of tensor name → shard file, found "
                    + weightMap);
        }
        Path dir = indexPath.toAbsolutePath().normalize().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
                String name = e.getKey();
                String where = index + ": tensor '" + name + "': ";
                if (!e.getValue().isTextual()) {
                    throw new SafetensorsException(where + "shard must be a file name, found " + e.getValue());
                }
                String shardName = e.getValue().textValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    Path shardPath = dir.resolve(shardName).normalize();
                    if (shardName.isEmpty() || Path.of(shardName).isAbsolute() || !shardPath.startsWith(dir)
                            || shardPath.equals(dir)) {
                        throw new SafetensorsException(where + "shard '" + shardName
                                + "' is not a file inside the index's folder " + dir);
                    }
                    if (!Files.isRegularFile(shardPath)) {
                        throw new SafetensorsException(where + "shard '" + shardName + "' does not exist in " + dir);
                    }
                    shard = SafetensorsFile.open(shardPath);
                    shards.put(shardName, shard);
                }
                if (!shard.contains(name)) {
                    throw new SafetensorsException(where + "listed in shard '" + shardName
                            + "', but that file has no tensor of this name");
                }
                tensors.put(name, shard.tensor(name));
            }
        } catch (IOException | RuntimeException e) {
            for (SafetensorsFile f : shards.values()) f.close();
            throw e;
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode meta = root.get("metadata");
        if (meta != null && meta.isObject()) {
            for (Map.Entry<String, JsonNode> e : meta.properties()) {
                metadata.put(e.getKey(), e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString());
            }
        }
        return new SafetensorsCheckpoint(indexPath, new ArrayList<>(shards.values()), tensors, metadata);
    }

    private static JsonNode readIndex(Path indexPath) throws SafetensorsException {
        String index = indexPath.toString();
        byte[] bytes;
        try {
            long size = Files.size(indexPath);
            if (size > MAX_INDEX_LENGTH) {
                throw new SafetensorsException(index + ": index of " + size + " bytes exceeds the limit of "
                        + MAX_INDEX_LENGTH);
            }
            bytes = Files.readAllBytes(indexPath);
        } catch (SafetensorsException e) {
            throw e;
        } catch (IOException e) {
            throw new SafetensorsException(index + ": cannot be read: " + e, e);
        }
        JsonNode root;
        try {
            root = SafetensorsHeader.JSON.readTree(bytes);
        } catch (JacksonException e) {
            throw new SafetensorsException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new SafetensorsException(index + ": cannot be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(index + ": must be a JSON object with a \"weight_map\"");
        }
        return root;
    }

    /** The folder's file, the index or the single file this checkpoint was opened from. */
    public Path source() { return source; }

    /** The open files: one, or every shard in order of first mention in the index. */
    public List<SafetensorsFile> files() { return files; }

    /** Every tensor by name (unmodifiable, views valid until {@link #close()}). */
    public Map<String, Tensor> tensors() { return tensors; }

    public boolean contains(String name) { return tensors.containsKey(name); }

    /** Tensor {@code name}, or an error naming the checkpoint and the tensor. */
    public Tensor tensor(String name) throws SafetensorsException {
        Tensor t = tensors.get(name);
        if (t == null) throw new SafetensorsException(source + ": no tensor named '" + name + "'");
        return t;
    }

    /** A single file's {@code __metadata__}, or a sharded index's {@code metadata} (values as strings). */
    public Map<String, String> metadata() { return metadata; }

    /** Closes every file; tensors obtained from this checkpoint must not be used afterwards. */
    @Override
    public void close() {
        for (SafetensorsFile f : files) f.close();
    }
}
