package org.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whole-folder replacement: all or nothing, and recovery after a process died half way. */
class AtomicFolderTest {
    @Test
    void replacesTheWholeFolder(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("checkpoint");
        AtomicFolder.write(target, d -> {
            Files.writeString(d.resolve("a"), "1");
            Files.writeString(d.resolve("old-only"), "x");
        });
        AtomicFolder.write(target, d -> Files.writeString(d.resolve("a"), "2"));
        assertEquals("2", Files.readString(target.resolve("a")));
        assertFalse(Files.exists(target.resolve("old-only")));
        assertEquals(List.of("checkpoint"), names(tmp));
    }

    @Test
    void aFailedWriteLeavesThePreviousFolderAndNoPartialOne(@TempDir Path tmp) throws IOException {
        Path target = tmp.resolve("checkpoint");
        AtomicFolder.write(target, d -> Files.writeString(d.resolve("state"), "epoch 1"));
        IOException e = assertThrows(IOException.class, () -> AtomicFolder.write(target, d -> {
            Files.writeString(d.resolve("state"), "epoch 2");
            throw new IOException("disk full");
        }));
        assertEquals("disk full", e.getMessage());
        assertEquals("epoch 1", Files.readString(target.resolve("state")));
        assertEquals(List.of("checkpoint"), names(tmp));
    }

    @Test
    void aFailedFirstWriteLeavesNothing(@TempDir Path tmp) {
        assertThrows(IllegalStateException.class, () -> AtomicFolder.write(tmp.resolve("c"), d -> {
            Files.writeString(d.resolve("x"), "partial");
            throw new IllegalStateException("killed");
        }));
        assertEquals(List.of(), names(tmp));
    }

    @Test
    void recoverPutsBackAFolderMovedAsideAndDropsStaging(@TempDir Path tmp) throws IOException {
        // a kill between "old away" and "new in", with a half-written staging folder beside it
        Path old = Files.createDirectory(tmp.resolve(".checkpoint.old123"));
        Files.writeString(old.resolve("state"), "epoch 1");
        Path staging = Files.createDirectory(tmp.resolve(".checkpoint.tmp456"));
        Files.writeString(staging.resolve("state"), "half");
        AtomicFolder.recover(tmp.resolve("checkpoint"));
        assertEquals("epoch 1", Files.readString(tmp.resolve("checkpoint/state")));
        assertEquals(List.of("checkpoint"), names(tmp));
    }

    @Test
    void recoverDropsAnOldFolderOnceTheNewOneIsInPlace(@TempDir Path tmp) throws IOException {
        Files.createDirectories(tmp.resolve(".checkpoint.old1"));
        Files.createDirectories(tmp.resolve("checkpoint"));
        AtomicFolder.recover(tmp.resolve("checkpoint"));
        assertTrue(Files.isDirectory(tmp.resolve("checkpoint")));
        assertEquals(List.of("checkpoint"), names(tmp));
    }

    private static List<String> names(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
