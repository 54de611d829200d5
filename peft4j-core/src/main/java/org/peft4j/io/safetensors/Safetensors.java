package org.peft4j.io.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.peft4j.io.AtomicFiles;
import org.peft4j.tensor.Tensor;

/**
 * Writes safetensors files. The header lists the tensors in the map's iteration order; their data is
 * laid out by decreasing element size (stable), so that, with the header padded to a multiple of 8,
 * every tensor starts at an offset aligned to its element size and readers that map the file can use
 * aligned access. Files are replaced atomically through {@link AtomicFiles}.
 */
public final class Safetensors {
    private static final int CHUNK = 1 << 16;

    private Safetensors() {}

    /** {@link #write(Path, Map, Map)} without metadata. */
    public static void write(Path path, Map<String, Tensor> tensors) throws IOException {
        write(path, tensors, Map.of());
    }

    /**
     * Atomically writes {@code tensors} (header in iteration order) with their own dtypes and logical
     * values (views and non-contiguous tensors are written as their row-major contents) and the
     * {@code metadata} strings as {@code __metadata__} (omitted when empty or null). On failure the
     * previous content of {@code path} is untouched and no temporary file remains.
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        String file = path.toString();
        List<Map.Entry<String, Tensor>> layout = dataLayout(file, tensors);
        long[] begins = new long[layout.size()];
        long offset = 0;
        for (int i = 0; i < layout.size(); i++) {
            begins[i] = offset;
            offset += byteLength(layout.get(i).getValue());
        }
        byte[] header = header(file, tensors, metadata, layout, begins);
        AtomicFiles.write(path, out -> {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            out.write(header);
            byte[] chunk = new byte[CHUNK];
            for (Map.Entry<String, Tensor> e : layout) writeData(out, e.getValue(), chunk);
        });
    }

    /** Entries ordered by decreasing element size, ties in map order; validates names and tensors. */
    private static List<Map.Entry<String, Tensor>> dataLayout(String file, Map<String, Tensor> tensors)
            throws SafetensorsException {
        List<Map.Entry<String, Tensor>> layout = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey() == null) throw new SafetensorsException(file + ": a tensor has a null name");
            if (e.getKey().equals(SafetensorsHeader.METADATA_KEY)) {
                throw new SafetensorsException(file + ": tensor '" + e.getKey() + "': name is reserved for metadata");
            }
            if (e.getValue() == null) throw new SafetensorsException(file + ": tensor '" + e.getKey() + "' is null");
            layout.add(Map.entry(e.getKey(), e.getValue()));
        }
        layout.sort(Comparator.comparingInt((Map.Entry<String, Tensor> e) -> -e.getValue().dtype().byteSize()));
        return layout;
    }

    private static byte[] header(String file, Map<String, Tensor> tensors, Map<String, String> metadata,
                                 List<Map.Entry<String, Tensor>> layout, long[] begins) throws SafetensorsException {
        ObjectNode root = SafetensorsHeader.JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA_KEY);
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) {
                    throw new SafetensorsException(file + ": metadata entry " + m.getKey() + " = " + m.getValue()
                            + " has a null key or value");
                }
                meta.put(m.getKey(), m.getValue());
            }
        }
        // Entries are created in map order first, so the header keeps that order; offsets are filled in after.
        for (String name : tensors.keySet()) root.putObject(name);
        for (int i = 0; i < layout.size(); i++) {
            Tensor t = layout.get(i).getValue();
            ObjectNode entry = (ObjectNode) root.get(layout.get(i).getKey());
            entry.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = entry.putArray("shape");
            for (int s : t.shape()) shape.add(s);
            entry.putArray("data_offsets").add(begins[i]).add(begins[i] + byteLength(t));
        }
        byte[] json;
        try {
            json = SafetensorsHeader.JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file + ": cannot encode the header: " + e.getOriginalMessage(), e);
        }
        int padded = (json.length + 7) & ~7;
        if (padded > SafetensorsFile.MAX_HEADER_LENGTH) {
            throw new SafetensorsException(file + ": header of " + padded + " bytes exceeds the limit of "
                    + SafetensorsFile.MAX_HEADER_LENGTH + " that readers accept");
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static long byteLength(Tensor t) { return t.numel() * t.dtype().byteSize(); }

    /**
     * Writes the logical (row-major) values of {@code t} as raw little-endian elements of its dtype:
     * one bulk copy when contiguous, else row by row along the last dimension. Raw bytes are copied, so
     * no value is ever converted (I64 beyond 2^53 and NaN payloads survive).
     */
    private static void writeData(OutputStream out, Tensor t, byte[] chunk) throws IOException {
        long numel = t.numel();
        if (numel == 0) return;
        int es = t.dtype().byteSize();
        MemorySegment storage = t.segment();
        if (t.isContiguous()) {
            copy(out, storage, t.offset() * es, numel * es, chunk);
            return;
        }
        int last = t.size(-1);
        long stride = t.stride(-1);
        for (long row = 0, rows = numel / last; row < rows; row++) {
            long base = t.storageIndex(row * last);
            if (stride == 1) {
                copy(out, storage, base * es, (long) last * es, chunk);
            } else {
                for (int j = 0; j < last; j++) copy(out, storage, (base + j * stride) * es, es, chunk);
            }
        }
    }

    private static void copy(OutputStream out, MemorySegment src, long byteOffset, long length, byte[] chunk)
            throws IOException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(chunk.length, length - done);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, byteOffset + done, chunk, 0, n);
            out.write(chunk, 0, n);
            done += n;
        }
    }
}
