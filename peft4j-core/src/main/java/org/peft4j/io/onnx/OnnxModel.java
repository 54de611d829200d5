package org.peft4j.io.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * An ONNX {@code ModelProto}: format metadata and the main graph. Tensor data read from a file stays in
 * the memory-mapped file; read from a stream or array it stays in that array.
 *
 * @param irVersion the ONNX IR version
 * @param producerName e.g. {@code pytorch}
 * @param producerVersion the producer's version string
 * @param opsetImports operator set versions by domain ("" is the default ONNX domain)
 * @param graph the main graph
 */
public record OnnxModel(long irVersion, String producerName, String producerVersion, Map<String, Long> opsetImports,
        OnnxGraph graph) {

    /** Memory-maps and parses an .onnx file; its tensors view the mapping, which lives while they are reachable. */
    public static OnnxModel read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto());
            return parse(mapped, file.getFileName() + ":ModelProto");
        }
    }

    /** Reads the whole stream into memory and parses it (for models inside jars). */
    public static OnnxModel read(InputStream in) throws IOException {
        return parse(MemorySegment.ofArray(in.readAllBytes()), "ModelProto");
    }

    /** Parses a serialized model held in {@code data}; tensors view {@code data} without copying. */
    public static OnnxModel parse(MemorySegment data) throws OnnxFormatException {
        return parse(data, "ModelProto");
    }

    private static OnnxModel parse(MemorySegment data, String source) throws OnnxFormatException {
        return OnnxParser.parseModel(new ProtoReader(data, source));
    }
}
