package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The string form of a method specification, as in AdapterHub: {@code name[key=value,...]}, where
 * {@code |} inside brackets separates list items and {@code |} outside brackets joins methods into a
 * union ({@code prefix_tuning|par_bn}). A bare item after a field continues that field's list, so
 * {@code bitfit[biases=query,intermediate]} means {@code bitfit[biases=query|intermediate]}.
 */
public record MethodSpec(String name, Map<String, String> args) {

    /** Parses a union of one or more methods. */
    public static List<MethodSpec> parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("empty method specification");
        List<MethodSpec> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i <= spec.length(); i++) {
            char c = i < spec.length() ? spec.charAt(i) : '|';
            if (c == '[') depth++;
            else if (c == ']') depth--;
            if (depth < 0) throw new IllegalArgumentException("unbalanced ']' at " + i + " in '" + spec + "'");
            if (c == '|' && depth == 0) {
                out.add(parseOne(spec.substring(start, i).trim(), spec));
                start = i + 1;
            }
        }
        if (depth != 0) throw new IllegalArgumentException("unbalanced '[' in '" + spec + "'");
        return out;
    }

    private static MethodSpec parseOne(String s, String whole) {
        if (s.isEmpty()) throw new IllegalArgumentException("empty method in '" + whole + "'");
        int open = s.indexOf('[');
        if (open < 0) return new MethodSpec(s, Map.of());
        if (!s.endsWith("]")) throw new IllegalArgumentException("'" + s + "' must end with ']' in '" + whole + "'");
        String name = s.substring(0, open).trim();
        Map<String, String> args = new LinkedHashMap<>();
        String body = s.substring(open + 1, s.length() - 1).trim();
        if (!body.isEmpty()) {
            int depth = 0, from = 0;
            String last = null;
            for (int i = 0; i <= body.length(); i++) {
                char c = i < body.length() ? body.charAt(i) : ',';
                if (c == '{' || c == '[') depth++;
                else if (c == '}' || c == ']') depth--;
                if (c == ',' && depth == 0) {
                    String kv = body.substring(from, i).trim();
                    int eq = kv.indexOf('=');
                    if (eq < 0 && last != null && !kv.isEmpty()) {
                        args.put(last, args.get(last) + "|" + kv); // biases=query,intermediate: a list written with commas
                    } else {
                        if (eq <= 0) throw new IllegalArgumentException("'" + kv + "' in '" + s + "' is not key=value");
                        last = kv.substring(0, eq).trim();
                        if (args.put(last, kv.substring(eq + 1).trim()) != null) {
                            throw new IllegalArgumentException("field '" + last + "' given twice in '" + s + "'");
                        }
                    }
                    from = i + 1;
                }
            }
        }
        return new MethodSpec(name, args);
    }

    @Override
    public String toString() {
        if (args.isEmpty()) return name;
        StringBuilder sb = new StringBuilder(name).append('[');
        args.forEach((k, v) -> sb.append(sb.charAt(sb.length() - 1) == '[' ? "" : ",").append(k).append('=').append(v));
        return sb.append(']').toString();
    }
}
