package org.peft4j.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Builds small npm-style package tarballs (gzip-compressed ustar) for tests. */
final class TestTarballs {
    private TestTarballs() {}

    /** A .tgz holding {@code files} (path → UTF-8 content), each under its path as given. */
    static byte[] tgz(Map<String, String> files) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            for (Map.Entry<String, String> f : files.entrySet()) {
                byte[] content = f.getValue().getBytes(StandardCharsets.UTF_8);
                gz.write(header(f.getKey(), content.length));
                gz.write(content);
                gz.write(new byte[(512 - content.length % 512) % 512]);
            }
            gz.write(new byte[1024]);
        }
        return bytes.toByteArray();
    }

    /**
     * A .tgz with one file whose name is given only by a pax extended header ({@code x} entry), as tar
     * writers do for names ustar cannot hold; the ustar name field holds a placeholder.
     */
    static byte[] tgzWithPaxName(String path, String content) throws IOException {
        byte[] data = content.getBytes(StandardCharsets.UTF_8);
        String record = " path=" + path + "\n";
        int length = record.length() + 1;
        while (String.valueOf(length).length() + record.length() != length) length++;
        byte[] pax = (length + record).getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            byte[] paxHeader = header("PaxHeader/placeholder", pax.length);
            paxHeader[156] = 'x';
            gz.write(checksummed(paxHeader));
            gz.write(pax);
            gz.write(new byte[(512 - pax.length % 512) % 512]);
            gz.write(header("placeholder", data.length));
            gz.write(data);
            gz.write(new byte[(512 - data.length % 512) % 512]);
            gz.write(new byte[1024]);
        }
        return bytes.toByteArray();
    }

    private static byte[] header(String path, int size) {
        byte[] h = new byte[512];
        String name = path;
        String prefix = "";
        if (path.length() > 100) { // ustar: split into prefix / name at a slash
            int slash = path.lastIndexOf('/', path.length() - 2);
            while (slash > 155) slash = path.lastIndexOf('/', slash - 1);
            prefix = path.substring(0, slash);
            name = path.substring(slash + 1);
        }
        if (name.length() > 100 || prefix.length() > 155) throw new IllegalArgumentException("ustar cannot hold the name " + path);
        put(h, 0, name);
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", size));
        put(h, 136, "00000000000");
        h[156] = '0';
        put(h, 257, "ustar");
        put(h, 263, "00");
        put(h, 345, prefix);
        return checksummed(h);
    }

    private static byte[] checksummed(byte[] h) {
        for (int i = 148; i < 156; i++) h[i] = ' ';
        long sum = 0;
        for (byte b : h) sum += b & 0xff;
        put(h, 148, String.format("%06o", sum));
        h[154] = 0;
        return h;
    }

    private static void put(byte[] h, int offset, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, offset, b.length);
    }
}
