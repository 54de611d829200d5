package org.peft4j.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Atomic file replacement: content goes to a temporary file in the target's directory, is forced to
 * disk, and then renamed over the target in one step. Readers see either the old file or the complete
 * new one, never a torn write; when writing fails the target is untouched and the temporary file is
 * removed. Every file peft4j writes goes through here.
 */
public final class AtomicFiles {
    private static final int BUFFER_SIZE = 1 << 16;

    private AtomicFiles() {}

    /** Produces the file's content. */
    @FunctionalInterface
    public interface ContentWriter {
        /**
         * Writes the whole content to {@code out}. Closing {@code out} is allowed and only flushes it
         * (so that, e.g., Jackson's auto-close does not end the write early).
         */
        void writeTo(OutputStream out) throws IOException;
    }

    /** Atomically replaces (or creates) {@code target} with what {@code writer} produces. */
    public static void write(Path target, ContentWriter writer) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null) throw new IOException(target + ": has no parent directory to write in");
        Files.createDirectories(dir);
        Path temp = null;
        try {
            FileChannel channel = null;
            for (int attempt = 0; channel == null; attempt++) {
                temp = dir.resolve(tempName(absolute));
                try {
                    channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    if (attempt >= 8) throw e;
                }
            }
            try (FileChannel ch = channel) {
                BufferedOutputStream buffered = new BufferedOutputStream(Channels.newOutputStream(ch), BUFFER_SIZE);
                writer.writeTo(new FlushOnClose(buffered));
                buffered.flush();
                ch.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temp = null;
            syncDirectory(dir);
        } catch (Throwable t) {
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException suppressed) {
                    t.addSuppressed(suppressed);
                }
            }
            throw t;
        }
    }

    /** Atomically replaces {@code target} with {@code bytes}. */
    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /** Atomically replaces {@code target} with {@code text} encoded as UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A hidden name next to the target, recognisable as ours if a crash (not an exception) leaves it behind. */
    private static String tempName(Path target) {
        return "." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp";
    }

    /**
     * Forces the directory entry of the rename to disk, so the new name survives a power loss. Some
     * platforms (Windows) cannot open a directory as a channel; there the rename is as durable as the
     * file system makes it and nothing more can be done, so that failure alone is ignored.
     */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // see javadoc: directory sync is best effort where the platform does not support it
        }
    }

    /** Lets a writer close the stream it was given without closing the channel under it. */
    private static final class FlushOnClose extends FilterOutputStream {
        FlushOnClose(OutputStream out) { super(out); }

        @Override
        public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); }

        @Override
        public void close() throws IOException { out.flush(); }
    }
}
