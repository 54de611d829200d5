package org.peft4j.io.safetensors;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * A safetensors file mapped into memory: an 8-byte little-endian header length N, N bytes of JSON
 * header, then the tensor data. Tensors are zero-copy, read-only views of the mapping and stay valid
 * until {@link #close()}. The header is validated completely (see {@link SafetensorsHeader}) before any
 * tensor is handed out, so a damaged or hostile file fails with a {@link SafetensorsException} naming
 * the file and the tensor instead of yielding wrong values.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted, as in the reference implementation: real headers are far smaller. */
    public static final long MAX_HEADER_LENGTH = 100_000_000L;

    private final Path path;
    private final Arena arena;
    private final List<SafetensorsEntry> entries;
    private final Map<String, SafetensorsEntry> entriesByName;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, SafetensorsHeader header, MemorySegment data) {
        this.path = path;
        this.arena = arena;
        this.entries = header.entries();
        this.metadata = header.metadata();
        Map<String, SafetensorsEntry> byName = new LinkedHashMap<>();
        Map<String, Tensor> views = new LinkedHashMap<>();
        for (SafetensorsEntry e : entries) {
            byName.put(e.name(), e);
            views.put(e.name(), Tensor.wrap(data.asSlice(e.dataBegin(), e.byteLength()), e.dtype(), e.shape()));
        }
        this.entriesByName = Collections.unmodifiableMap(byName);
        this.tensors = Collections.unmodifiableMap(views);
    }

    /** Opens, validates and maps {@code path}. */
    public static SafetensorsFile open(Path path) throws IOException {
        String file = path.toString();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(file + ": file has " + size
                        + " bytes, too short for the 8-byte header length");
            }
            long headerLength = readLong(ch, file);
            if (headerLength < 0 || headerLength > MAX_HEADER_LENGTH) {
                throw new SafetensorsException(file + ": header length " + Long.toUnsignedString(headerLength)
                        + " exceeds the limit of " + MAX_HEADER_LENGTH + " bytes (file damaged or not safetensors)");
            }
            if (headerLength > size - 8) {
                throw new SafetensorsException(file + ": header length " + headerLength + " runs past the end of the file ("
                        + size + " bytes, so at most " + (size - 8) + " bytes of header)");
            }
            byte[] json = new byte[(int) headerLength];
            readFully(ch, ByteBuffer.wrap(json), 8, file);
            long dataStart = 8 + headerLength;
            SafetensorsHeader header = SafetensorsHeader.parse(file, json, size - dataStart);
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return new SafetensorsFile(path, arena, header, mapped.asSlice(dataStart));
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(file + ": no such file", e);
        } catch (SafetensorsException e) {
            throw e;
        } catch (IOException e) {
            throw new SafetensorsException(file + ": cannot be read: " + e, e);
        }
    }

    private static long readLong(FileChannel ch, String file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, buf, 0, file);
        return buf.flip().getLong();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, String file) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new SafetensorsException(file + ": file ended while reading its header (truncated while open?)");
        }
    }

    /** The path this file was opened from. */
    public Path path() { return path; }

    /** Tensor names in header order. */
    public List<String> names() { return new ArrayList<>(entriesByName.keySet()); }

    /** Header entries (dtype, shape, byte range) in header order. */
    public List<SafetensorsEntry> entries() { return entries; }

    public boolean contains(String name) { return entriesByName.containsKey(name); }

    /** The header entry of {@code name}, or an error naming the file and the tensor. */
    public SafetensorsEntry entry(String name) throws SafetensorsException {
        SafetensorsEntry e = entriesByName.get(name);
        if (e == null) throw new SafetensorsException(path + ": no tensor named '" + name + "'");
        return e;
    }

    /** The zero-copy, read-only view of tensor {@code name}, or an error naming the file and the tensor. */
    public Tensor tensor(String name) throws SafetensorsException {
        checkOpen();
        Tensor t = tensors.get(name);
        if (t == null) throw new SafetensorsException(path + ": no tensor named '" + name + "'");
        return t;
    }

    /** Every tensor by name, in header order (unmodifiable; views valid until {@link #close()}). */
    public Map<String, Tensor> tensors() {
        checkOpen();
        return tensors;
    }

    /** The {@code __metadata__} strings (empty when the header has none). */
    public Map<String, String> metadata() { return metadata; }

    /** Unmaps the file; tensors obtained from it must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException(path + ": safetensors file already closed");
    }

    @Override
    public String toString() { return "SafetensorsFile(" + path + ", " + entries.size() + " tensors)"; }
}
