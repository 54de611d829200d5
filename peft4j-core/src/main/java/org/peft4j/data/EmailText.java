package org.peft4j.data;

import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The part of a raw RFC 822 / MIME email a classifier may see: its subject and its decoded body text.
 *
 * <p>Routing and server headers (Received, Return-Path, X-Spam-*, Message-ID, ...) are never included:
 * in a corpus like SpamAssassin's they were added by the collecting mail servers and would give the
 * answer away. The body is decoded as a mail reader shows it: multipart messages are walked (forwarded
 * {@code message/rfc822} parts too, without their headers), quoted-printable and base64 parts decoded
 * with their charset, attachments skipped, {@code text/plain} preferred, else {@code text/html} reduced to
 * its visible text (also for a body labelled plain that is plainly HTML). Whitespace runs become one space.
 */
final class EmailText {
    /** The deepest MIME nesting followed; real mail nests two or three levels. */
    private static final int MAX_DEPTH = 8;
    private static final Pattern WHITESPACE = Pattern.compile("(?U)\\s+"); // Unicode spaces too (no-break space)
    private static final Pattern PARAMETER = Pattern.compile(";\\s*([A-Za-z0-9_*.-]+)\\s*=\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|[^;\\s]*)");

    /** A header block split from its body. Header names are lower case; a repeated header keeps its first value. */
    private record Part(Map<String, String> headers, String body) {

        String header(String name) { return headers.getOrDefault(name, ""); }

        /** The media type in lower case, {@code text/plain} when absent (RFC 2045). */
        String mediaType() {
            String value = header("content-type");
            int semi = value.indexOf(';');
            String type = (semi < 0 ? value : value.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
            return type.isEmpty() || !type.contains("/") ? "text/plain" : type;
        }

        String parameter(String name) {
            Matcher m = PARAMETER.matcher(header("content-type"));
            while (m.find()) {
                if (m.group(1).equalsIgnoreCase(name)) return m.group(3) != null ? m.group(3).replaceAll("\\\\(.)", "$1") : m.group(2);
            }
            return null;
        }

        boolean isAttachment() {
            return header("content-disposition").trim().toLowerCase(Locale.ROOT).startsWith("attachment");
        }
    }

    private EmailText() {}

    /** {@code subject + "\n" + body}, each with whitespace collapsed to single spaces. */
    static String of(String rawEmail) {
        Part message = parse(rawEmail);
        String subject = collapse(MimeCodecs.decodeWords(message.header("subject")));
        List<String> plain = new ArrayList<>();
        List<String> html = new ArrayList<>();
        collect(message, plain, html, 0);
        String body = !plain.isEmpty() ? String.join("\n", plain) : String.join("\n", html);
        return subject + "\n" + collapse(body);
    }

    /** Splits headers (unfolding continuation lines) from the body at the first empty line. */
    private static Part parse(String text) {
        Map<String, String> headers = new LinkedHashMap<>();
        int at = 0;
        int n = text.length();
        String name = null;
        StringBuilder value = new StringBuilder();
        while (at < n) {
            int end = text.indexOf('\n', at);
            if (end < 0) end = n;
            String line = text.substring(at, end > at && text.charAt(end - 1) == '\r' ? end - 1 : end);
            at = Math.min(n, end + 1);
            if (line.isEmpty()) break;
            if ((line.charAt(0) == ' ' || line.charAt(0) == '\t') && name != null) {
                value.append(' ').append(line.strip());
                continue;
            }
            if (name != null) headers.putIfAbsent(name, value.toString());
            int colon = line.indexOf(':');
            boolean isHeader = colon > 0 && line.substring(0, colon).chars().noneMatch(c -> c == ' ' || c == '\t');
            name = isHeader ? line.substring(0, colon).toLowerCase(Locale.ROOT) : null; // e.g. the mbox "From " line
            value.setLength(0);
            if (isHeader) value.append(line.substring(colon + 1).strip());
        }
        if (name != null) headers.putIfAbsent(name, value.toString());
        return new Part(headers, at <= n ? text.substring(at) : "");
    }

    /** Adds the decoded text of each leaf part to {@code plain} or {@code html}, in message order. */
    private static void collect(Part part, List<String> plain, List<String> html, int depth) {
        if (depth > MAX_DEPTH || part.isAttachment()) return;
        String type = part.mediaType();
        if (type.startsWith("multipart/")) {
            String boundary = part.parameter("boundary");
            if (boundary == null || boundary.isEmpty()) {
                plain.add(part.body()); // malformed: show the raw body rather than nothing
                return;
            }
            for (String child : splitMultipart(part.body(), boundary)) collect(parse(child), plain, html, depth + 1);
        } else if (type.equals("message/rfc822")) {
            collect(parse(decode(part)), plain, html, depth + 1);
        } else if (type.equals("text/html")) {
            html.add(HtmlText.strip(decode(part)));
        } else if (type.startsWith("text/")) {
            String text = decode(part);
            if (HtmlText.looksLikeHtml(text)) html.add(HtmlText.strip(text));
            else plain.add(text);
        }
    }

    /** The body of a leaf part, with its transfer encoding undone. */
    private static String decode(Part part) {
        Charset charset = MimeCodecs.charset(part.parameter("charset"));
        String encoding = part.header("content-transfer-encoding").trim().toLowerCase(Locale.ROOT);
        try {
            return switch (encoding) {
                case "quoted-printable" -> MimeCodecs.quotedPrintable(part.body(), charset);
                case "base64" -> MimeCodecs.base64(part.body(), charset);
                default -> part.body();
            };
        } catch (IllegalArgumentException e) {
            return part.body();
        }
    }

    /** The parts between {@code --boundary} lines, up to {@code --boundary--} (preamble and epilogue dropped). */
    private static List<String> splitMultipart(String body, String boundary) {
        String delimiter = "--" + boundary;
        List<String> parts = new ArrayList<>();
        int start = -1;
        int at = 0;
        int n = body.length();
        while (at < n) {
            int end = body.indexOf('\n', at);
            if (end < 0) end = n;
            String line = body.substring(at, end).stripTrailing();
            if (line.startsWith(delimiter)) {
                boolean last = line.startsWith(delimiter + "--");
                if (line.length() == delimiter.length() || last) {
                    if (start >= 0) parts.add(body.substring(start, Math.max(start, at - 1)));
                    if (last) return parts;
                    start = Math.min(n, end + 1);
                }
            }
            at = end + 1;
        }
        if (start >= 0 && start < n) parts.add(body.substring(start)); // no closing delimiter
        return parts;
    }

    static String collapse(String s) {
        return WHITESPACE.matcher(s).replaceAll(" ").strip();
    }
}
