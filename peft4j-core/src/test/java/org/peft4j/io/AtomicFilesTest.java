package org.peft4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReplaces() throws IOException {
        Path target = dir.resolve("sub/config.json");
        AtomicFiles.writeString(target, "first");
        assertEquals("first", Files.readString(target));
        AtomicFiles.write(target, out -> {
            out.write("second".getBytes());
            out.close(); // e.g. Jackson closes the stream it is given; the write must still complete
        });
        assertEquals("second", Files.readString(target));
        assertEquals(List.of(target), listing(target.getParent()));
    }

    @Test
    void failedWriteLeavesTargetAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("adapter.safetensors");
        AtomicFiles.writeString(target, "intact");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[200_000]); // more than the buffer, so bytes reached the temporary file
            throw new IOException("disk full");
        }));
        assertEquals("disk full", e.getMessage());
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, out -> {
            throw new IllegalStateException("bug in writer");
        }));
        assertEquals("intact", Files.readString(target));
        assertEquals(List.of(target), listing(dir));
    }

    @Test
    void failedFirstWriteCreatesNothing() {
        Path target = dir.resolve("new.bin");
        assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            throw new IOException("fail");
        }));
        assertEquals(List.of(), listing(dir));
    }

    static List<Path> listing(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
