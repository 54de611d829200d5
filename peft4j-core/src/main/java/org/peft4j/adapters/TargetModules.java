package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which modules a method targets, with PEFT's rules: a list matches a module whose dotted name equals an
 * entry or ends with {@code "." + entry}; a regular expression must match the whole name;
 * {@code all-linear} takes every linear layer but the LM head. {@code layers} restricts the match
 * to transformer layers by index.
 */
public record TargetModules(List<String> names, Pattern regex, boolean allLinear, List<Integer> layers, List<String> exclude) {
    private static final Pattern LAYER_INDEX = Pattern.compile("(?:^|\\.)(?:layer|layers|h|blocks)\\.(\\d+)(?:\\.|$)");

    /** Reads {@code target_modules}, {@code layers_to_transform} and {@code exclude_modules}; a string-form entry "re:..." is a regex. */
    public static TargetModules read(ConfigArgs args, List<String> defaults) {
        String raw = args.string("target_modules", null);
        if (raw != null && raw.trim().startsWith("re:")) {
            // a regex may itself contain '|': take the whole value, not list items
            return new TargetModules(List.of(), Pattern.compile(raw.trim().substring(3)), false,
                    args.list("layers_to_transform").stream().map(Integer::parseInt).toList(), args.list("exclude_modules"));
        }
        List<String> names = args.has("target_modules") ? args.list("target_modules") : defaults;
        Pattern regex = null;
        boolean allLinear = false;
        if (names.size() == 1 && names.get(0).equalsIgnoreCase("all-linear")) {
            allLinear = true;
            names = List.of();
        } else if (args.isJsonString("target_modules")) {
            regex = Pattern.compile(args.string("target_modules", ""));
            names = List.of();
        }
        List<Integer> layers = args.list("layers_to_transform").stream().map(Integer::parseInt).toList();
        return new TargetModules(List.copyOf(names), regex, allLinear, layers, args.list("exclude_modules"));
    }

    /** The dotted names among {@code linearModules} this selects, in model order; an error if none. */
    public List<String> select(Map<String, ?> linearModules, String method) {
        List<String> out = new ArrayList<>();
        for (String name : linearModules.keySet()) if (matches(name)) out.add(name);
        if (out.isEmpty()) {
            throw new IllegalArgumentException(method + ": target modules " + describe() + " match no linear layer of this model; "
                    + "its linear layers include " + linearModules.keySet().stream().limit(8).toList());
        }
        return out;
    }

    public boolean matches(String name) {
        if (exclude.stream().anyMatch(e -> name.equals(e) || name.endsWith("." + e))) return false;
        boolean hit = allLinear ? !isOutputHead(name)
                : regex != null ? regex.matcher(name).matches()
                : names.stream().anyMatch(n -> name.equals(n) || name.endsWith("." + n));
        if (!hit || layers.isEmpty()) return hit;
        int layer = layerIndex(name);
        return layer >= 0 && layers.contains(layer);
    }

    /** The transformer layer a dotted module name lies in, or -1. */
    public static int layerIndex(String name) {
        Matcher m = LAYER_INDEX.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static boolean isOutputHead(String name) {
        return name.equals("lm_head") || name.endsWith(".lm_head");
    }

    /** The JSON form PEFT writes: a list, or the regex string, or "all-linear". */
    public Object toJsonValue() {
        if (allLinear) return "all-linear";
        if (regex != null) return regex.pattern();
        return names;
    }

    private String describe() { return allLinear ? "all-linear" : regex != null ? "regex " + regex.pattern() : names.toString(); }
}
