package org.peft4j.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The decodings of MIME mail: quoted-printable, base64, RFC 2047 encoded words, and charsets. */
final class MimeCodecs {
    /** {@code =?charset?B|Q?text?=} (RFC 2047); the language suffix {@code charset*lang} is allowed. */
    private static final Pattern ENCODED_WORD = Pattern.compile("=\\?([^?\\s]+)\\?([BbQq])\\?([^?\\s]*)\\?=");
    /** Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2). */
    private static final Pattern BETWEEN_WORDS = Pattern.compile("(\\?=)\\s+(=\\?)");

    private MimeCodecs() {}

    /**
     * Decodes quoted-printable: {@code =XX} is a byte, {@code =} at a line end is a soft break. Malformed
     * escapes are kept as they are; characters outside ASCII are kept in {@code charset}.
     */
    static String quotedPrintable(String s, Charset charset) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == '=') {
                int end = i + 1;
                while (end < n && (s.charAt(end) == ' ' || s.charAt(end) == '\t')) end++; // trailing blanks before a soft break
                if (end < n && (s.charAt(end) == '\n' || s.charAt(end) == '\r')) {
                    if (s.charAt(end) == '\r' && end + 1 < n && s.charAt(end + 1) == '\n') end++;
                    i = end;
                    continue;
                }
                if (end == n) break; // '=' at the very end: a soft break
                if (i + 2 < n && hex(s.charAt(i + 1)) >= 0 && hex(s.charAt(i + 2)) >= 0) {
                    out.write(hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2)));
                    i += 2;
                    continue;
                }
            }
            if (c < 0x80) out.write(c);
            else out.writeBytes(String.valueOf(c).getBytes(charset));
        }
        return new String(out.toByteArray(), charset);
    }

    /** Decodes base64, ignoring line breaks and any other characters outside the alphabet. */
    static String base64(String s, Charset charset) {
        StringBuilder clean = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/') clean.append(c);
        }
        if (clean.length() % 4 == 1) clean.setLength(clean.length() - 1); // a lone trailing sextet carries no whole byte
        while (clean.length() % 4 != 0) clean.append('=');
        return new String(Base64.getDecoder().decode(clean.toString()), charset);
    }

    /** A header value with its RFC 2047 encoded words decoded; malformed ones are left as they are. */
    static String decodeWords(String value) {
        if (!value.contains("=?")) return value;
        String joined = BETWEEN_WORDS.matcher(value).replaceAll("$1$2");
        Matcher m = ENCODED_WORD.matcher(joined);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            Charset charset = charset(m.group(1).replaceFirst("\\*.*", ""));
            String text = m.group(3);
            String decoded;
            try {
                decoded = m.group(2).equalsIgnoreCase("B") ? base64(text, charset) : quotedPrintable(text.replace('_', ' '), charset);
            } catch (IllegalArgumentException e) {
                decoded = m.group();
            }
            m.appendReplacement(out, Matcher.quoteReplacement(decoded));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The charset of that name, or ISO-8859-1 (every byte is a character) when Java does not know it. */
    static Charset charset(String name) {
        if (name == null || name.isBlank()) return StandardCharsets.ISO_8859_1;
        try {
            return Charset.forName(name.trim());
        } catch (IllegalArgumentException e) {
            return StandardCharsets.ISO_8859_1;
        }
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    }
}
