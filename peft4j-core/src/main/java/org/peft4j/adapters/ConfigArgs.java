package org.peft4j.adapters;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The arguments of one method in the string form ({@code lora[r=16,target_modules=query|value]}) or
 * its JSON form, with typed access. Every read marks the field as known; {@link #finish()} rejects
 * anything not read, listing the fields the method accepts.
 */
public final class ConfigArgs {
    private final String method;
    private final Map<String, String> values;
    private final Set<String> known = new LinkedHashSet<>();
    private final Set<String> scalarStrings = new LinkedHashSet<>();

    public ConfigArgs(String method, Map<String, String> values) {
        this.method = method;
        this.values = new LinkedHashMap<>(values);
    }

    /** JSON fields as strings (arrays joined with '|', objects kept as JSON text, null dropped). */
    public static ConfigArgs fromJson(String method, JsonNode json) {
        Map<String, String> v = new LinkedHashMap<>();
        Set<String> strings = new LinkedHashSet<>();
        json.fields().forEachRemaining(e -> {
            if (e.getValue() != null && e.getValue().isTextual()) strings.add(e.getKey());
            JsonNode n = e.getValue();
            if (n == null || n.isNull()) return;
            if (n.isArray()) {
                List<String> items = new ArrayList<>();
                n.forEach(i -> items.add(i.isValueNode() ? i.asText() : i.toString()));
                v.put(e.getKey(), String.join("|", items));
            } else {
                v.put(e.getKey(), n.isValueNode() ? n.asText() : n.toString());
            }
        });
        ConfigArgs args = new ConfigArgs(method, v);
        args.scalarStrings.addAll(strings);
        return args;
    }

    /** Whether the field came from a JSON string rather than a list (PEFT reads a string target_modules as a regex). */
    public boolean isJsonString(String key) { return scalarStrings.contains(key); }

    public String method() { return method; }

    public boolean has(String key) {
        known.add(key);
        return values.containsKey(key);
    }

    public String string(String key, String fallback) {
        known.add(key);
        return values.getOrDefault(key, fallback);
    }

    public int integer(String key, int fallback) {
        String v = string(key, null);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw bad(key, v, "an integer");
        }
    }

    public double number(String key, double fallback) {
        String v = string(key, null);
        if (v == null) return fallback;
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw bad(key, v, "a number");
        }
    }

    public boolean bool(String key, boolean fallback) {
        String v = string(key, null);
        if (v == null) return fallback;
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw bad(key, v, "true or false");
        };
    }

    /** A '|'-separated list (empty when absent). */
    public List<String> list(String key) {
        String v = string(key, null);
        if (v == null || v.isBlank()) return List.of();
        return Arrays.stream(v.split("\\|")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    /** One of {@code allowed} (case-insensitive), else an error listing them. */
    public String choice(String key, String fallback, String... allowed) {
        String v = string(key, fallback);
        if (v == null) return null;
        for (String a : allowed) if (a.equalsIgnoreCase(v.trim())) return a;
        throw new IllegalArgumentException(method + ": field '" + key + "' is '" + v + "'; valid: " + String.join(", ", allowed));
    }

    /** Rejects fields that no read asked for. */
    public void finish() {
        List<String> unknown = values.keySet().stream().filter(k -> !known.contains(k)).toList();
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(method + ": unknown field" + (unknown.size() > 1 ? "s " : " ") + unknown
                    + "; valid fields: " + known);
        }
    }

    public IllegalArgumentException bad(String key, String value, String expected) {
        return new IllegalArgumentException(method + ": field '" + key + "' must be " + expected + ", got '" + value + "'");
    }
}
