package org.peft4j.data;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;

/**
 * Reads the regular files of a gzip-compressed tar archive (an npm package tarball) into memory.
 *
 * <p>Handles the ustar format with its name prefix, GNU long names ({@code L}) and pax extended headers'
 * {@code path} ({@code x}), which is what npm writes. Nothing is written to disk, so entry names cannot
 * escape anywhere.
 */
final class TarGz {
    private static final int BLOCK = 512;

    private TarGz() {}

    /**
     * The files whose names {@code wanted} accepts, by name (sorted, so that callers iterate in a fixed
     * order); other files are skipped without being kept.
     */
    static Map<String, byte[]> read(byte[] tgz, Predicate<String> wanted) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (DataInputStream in = new DataInputStream(new GZIPInputStream(new ByteArrayInputStream(tgz), 1 << 16))) {
            byte[] header = new byte[BLOCK];
            String longName = null;
            while (true) {
                try {
                    in.readFully(header);
                } catch (EOFException e) {
                    return files; // some writers omit the two zero blocks at the end
                }
                if (isZero(header)) return files;
                checkChecksum(header);
                long size = octal(header, 124, 12);
                char type = (char) header[156];
                String name = longName != null ? longName : ustarName(header);
                longName = null;
                switch (type) {
                    case 'L' -> longName = trimNul(new String(readEntry(in, size), StandardCharsets.UTF_8));
                    case 'x' -> longName = paxPath(readEntry(in, size));
                    case '0', '\0', '7' -> {
                        if (wanted.test(name)) files.put(name, readEntry(in, size));
                        else skipEntry(in, size);
                    }
                    default -> skipEntry(in, size); // directories, links, global pax headers
                }
            }
        }
    }

    private static String ustarName(byte[] h) {
        String name = cString(h, 0, 100);
        boolean ustar = cString(h, 257, 6).startsWith("ustar");
        String prefix = ustar ? cString(h, 345, 155) : "";
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    /** The {@code path} record of a pax header ({@code "LEN path=VALUE\n"} records), or null. */
    private static String paxPath(byte[] pax) {
        String text = new String(pax, StandardCharsets.UTF_8);
        int at = 0;
        while (at < text.length()) {
            int space = text.indexOf(' ', at);
            if (space < 0) break;
            int length = Integer.parseInt(text.substring(at, space));
            String record = text.substring(space + 1, at + length - 1);
            if (record.startsWith("path=")) return record.substring(5);
            at += length;
        }
        return null;
    }

    private static byte[] readEntry(DataInputStream in, long size) throws IOException {
        if (size > Integer.MAX_VALUE - 16) throw new IOException("tar entry of " + size + " bytes is too large");
        byte[] data = new byte[(int) size];
        in.readFully(data);
        skipFully(in, padding(size));
        return data;
    }

    private static void skipEntry(DataInputStream in, long size) throws IOException {
        skipFully(in, size + padding(size));
    }

    private static long padding(long size) {
        return (BLOCK - size % BLOCK) % BLOCK;
    }

    private static void skipFully(InputStream in, long n) throws IOException {
        while (n > 0) {
            long skipped = in.skip(n);
            if (skipped <= 0) {
                if (in.read() < 0) throw new EOFException("tar archive ends inside an entry");
                skipped = 1;
            }
            n -= skipped;
        }
    }

    private static void checkChecksum(byte[] h) throws IOException {
        long stored = octal(h, 148, 8);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xff);
        if (sum != stored) throw new IOException("not a tar archive (header checksum " + stored + " != " + sum + ")");
    }

    private static long octal(byte[] h, int offset, int length) throws IOException {
        if ((h[offset] & 0x80) != 0) throw new IOException("tar entry uses a base-256 number, unsupported for files this small");
        long value = 0;
        for (int i = offset; i < offset + length; i++) {
            byte b = h[i];
            if (b == 0 || b == ' ') {
                if (value > 0) break;
                continue;
            }
            if (b < '0' || b > '7') throw new IOException("not a tar archive (bad octal number in a header)");
            value = value * 8 + (b - '0');
        }
        return value;
    }

    private static String cString(byte[] h, int offset, int length) {
        int end = offset;
        while (end < offset + length && h[end] != 0) end++;
        return new String(h, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static String trimNul(String s) {
        int nul = s.indexOf('\0');
        return nul < 0 ? s : s.substring(0, nul);
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) if (b != 0) return false;
        return true;
    }
}
