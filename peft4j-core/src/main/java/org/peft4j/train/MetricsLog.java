package org.peft4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The JSONL metrics log ({@code metrics.jsonl}): one JSON object per line, appended as training goes.
 * A checkpoint records how many bytes the log had ({@link #position()}); a resumed run cuts the log back
 * to that length, so the lines a killed run wrote after its last checkpoint are written again, once.
 */
final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final FileChannel channel;

    /** Opens {@code file} keeping its first {@code keepBytes} bytes (0: an empty log). */
    MetricsLog(Path file, long keepBytes) throws IOException {
        this.file = file;
        Files.createDirectories(file.toAbsolutePath().getParent());
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        if (channel.size() < keepBytes) {
            channel.close();
            throw new IOException(file + ": has " + Files.size(file) + " bytes but the checkpoint recorded " + keepBytes
                    + "; the log was changed since, so the run cannot resume its log");
        }
        channel.truncate(keepBytes);
        channel.position(keepBytes);
    }

    /** Appends one line. */
    void append(ObjectNode line) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) channel.write(bytes);
    }

    /** The log's length after forcing what was appended to disk (what a checkpoint records). */
    long position() throws IOException {
        channel.force(false);
        return channel.position();
    }

    Path file() { return file; }

    static ObjectNode line(String type) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", type);
        return n;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
