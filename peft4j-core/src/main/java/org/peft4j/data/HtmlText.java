package org.peft4j.data;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The visible text of an HTML mail body: no tags, comments, scripts or styles; entities decoded. */
final class HtmlText {
    private static final Pattern INVISIBLE = Pattern.compile("(?is)<!--.*?-->|<(script|style|head)\\b.*?</\\1\\s*>");
    /** Tags that end a line of text in a browser. */
    private static final Pattern BREAKS = Pattern.compile("(?i)<(br|p|div|tr|li|h[1-6]|table|/p|/div|/tr|/li|/h[1-6]|/table)\\b[^>]*>");
    private static final Pattern TAG = Pattern.compile("(?s)<[!/?]?[a-zA-Z][^>]*>");
    private static final Pattern ENTITY = Pattern.compile("&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,7});?");
    private static final Map<String, String> NAMED = Map.ofEntries(
            Map.entry("nbsp", " "), Map.entry("amp", "&"), Map.entry("lt", "<"), Map.entry("gt", ">"),
            Map.entry("quot", "\""), Map.entry("apos", "'"), Map.entry("copy", "©"), Map.entry("reg", "®"),
            Map.entry("trade", "™"), Map.entry("mdash", "—"), Map.entry("ndash", "–"), Map.entry("hellip", "…"),
            Map.entry("lsquo", "‘"), Map.entry("rsquo", "’"), Map.entry("ldquo", "“"), Map.entry("rdquo", "”"),
            Map.entry("bull", "•"), Map.entry("middot", "·"), Map.entry("euro", "€"), Map.entry("pound", "£"),
            Map.entry("yen", "¥"), Map.entry("cent", "¢"), Map.entry("sect", "§"), Map.entry("deg", "°"),
            Map.entry("times", "×"), Map.entry("laquo", "«"), Map.entry("raquo", "»"), Map.entry("iexcl", "¡"),
            Map.entry("eacute", "é"), Map.entry("egrave", "è"), Map.entry("agrave", "à"), Map.entry("aacute", "á"),
            Map.entry("ccedil", "ç"), Map.entry("ouml", "ö"), Map.entry("uuml", "ü"), Map.entry("auml", "ä"),
            Map.entry("szlig", "ß"), Map.entry("ntilde", "ñ"));

    private HtmlText() {}

    /** The text of {@code html}, with a line break where a block ends; whitespace is left to the caller. */
    static String strip(String html) {
        String s = INVISIBLE.matcher(html).replaceAll(" ");
        s = BREAKS.matcher(s).replaceAll("\n");
        s = TAG.matcher(s).replaceAll(" ");
        return decodeEntities(s);
    }

    /** Whether a body not labelled as HTML is HTML anyway (common in old spam). */
    static boolean looksLikeHtml(String body) {
        String head = body.length() > 2000 ? body.substring(0, 2000) : body;
        String lower = head.toLowerCase(Locale.ROOT);
        return lower.contains("<html") || lower.contains("<body") || lower.contains("<!doctype html");
    }

    static String decodeEntities(String s) {
        if (s.indexOf('&') < 0) return s;
        Matcher m = ENTITY.matcher(s);
        StringBuilder out = new StringBuilder(s.length());
        while (m.find()) {
            String name = m.group(1);
            String replacement;
            if (name.startsWith("#")) {
                int code = name.length() > 1 && (name.charAt(1) == 'x' || name.charAt(1) == 'X')
                        ? Integer.parseInt(name.substring(2), 16) : Integer.parseInt(name.substring(1));
                replacement = Character.isValidCodePoint(code) && code != 0 ? Character.toString(code) : " ";
            } else {
                replacement = NAMED.getOrDefault(name, m.group()); // names are case-sensitive; unknown ones stay
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }
}
