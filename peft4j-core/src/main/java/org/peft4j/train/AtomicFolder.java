package org.peft4j.train;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Replaces a whole folder so that readers see the old one or the complete new one, never a mix: the
 * content is written into a hidden staging folder beside the target, which then takes the target's
 * place. A directory cannot be renamed over a non-empty one, so the swap is two renames (old away, new
 * in); a process killed between them leaves the old folder under a hidden {@code .old} name, which
 * {@link #recover} puts back.
 */
public final class AtomicFolder {
    private AtomicFolder() {}

    /** Fills a staging folder. */
    @FunctionalInterface
    public interface Writer {
        void writeInto(Path staging) throws IOException;
    }

    /**
     * Writes {@code target} through {@code writer}. When the writer (or the swap) fails, the previous
     * {@code target} is untouched and the staging folder is removed.
     */
    public static void write(Path target, Writer writer) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path parent = absolute.getParent();
        Files.createDirectories(parent);
        Path staging = Files.createTempDirectory(parent, stagingPrefix(absolute));
        try {
            writer.writeInto(staging);
            if (Files.exists(absolute)) {
                Path old = Files.createTempDirectory(parent, oldPrefix(absolute));
                Files.delete(old);
                Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(staging, absolute, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            } else {
                Files.move(staging, absolute, StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            if (Files.exists(staging)) deleteTree(staging);
        }
    }

    /**
     * Cleans up after a process that died while writing {@code target}: removes staging folders, and
     * when {@code target} is missing but the folder it replaced was moved aside, moves that back.
     * Leftover old folders are removed once {@code target} exists.
     */
    public static void recover(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path parent = absolute.getParent();
        if (!Files.isDirectory(parent)) return;
        for (Path p : siblings(parent, stagingPrefix(absolute))) deleteTree(p);
        List<Path> old = siblings(parent, oldPrefix(absolute));
        if (!Files.exists(absolute) && old.size() == 1) {
            Files.move(old.get(0), absolute, StandardCopyOption.ATOMIC_MOVE);
            old = List.of();
        }
        if (Files.exists(absolute)) for (Path p : old) deleteTree(p);
    }

    /** Deletes a folder and everything in it; nothing happens when it does not exist. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }

    private static List<Path> siblings(Path parent, String prefix) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, p -> p.getFileName().toString().startsWith(prefix))) {
            for (Path p : ds) out.add(p);
        }
        return out;
    }

    private static String stagingPrefix(Path target) { return "." + target.getFileName() + ".tmp"; }

    private static String oldPrefix(Path target) { return "." + target.getFileName() + ".old"; }
}
