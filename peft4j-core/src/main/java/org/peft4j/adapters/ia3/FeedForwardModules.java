package org.peft4j.adapters.ia3;

import java.util.List;
import java.util.regex.Pattern;
import org.peft4j.adapters.ConfigArgs;

/**
 * Which of IA3's targets are feed-forward layers (scaled at their input rather than their output), with
 * PEFT's rules: a regular expression must match the whole module name; a list entry matches any module name
 * that ends with it as plain text ({@code output.dense} thus also matches {@code attention.output.dense}).
 */
public record FeedForwardModules(List<String> suffixes, Pattern regex) {
    public FeedForwardModules {
        suffixes = List.copyOf(suffixes);
    }

    /** {@code feedforward_modules}: a JSON string or a {@code re:} entry is a regex, else a list of suffixes. */
    static FeedForwardModules read(ConfigArgs args) {
        String key = "feedforward_modules";
        if (args.isJsonString(key)) return new FeedForwardModules(List.of(), Pattern.compile(args.string(key, "")));
        List<String> items = args.list(key);
        if (items.size() == 1 && items.get(0).startsWith("re:")) {
            return new FeedForwardModules(List.of(), Pattern.compile(items.get(0).substring(3)));
        }
        return new FeedForwardModules(items, null);
    }

    public boolean matches(String module) {
        return regex != null ? regex.matcher(module).matches() : suffixes.stream().anyMatch(module::endsWith);
    }

    /** The JSON form PEFT writes: the regex as a string, else the list. */
    Object toJsonValue() { return regex != null ? regex.pattern() : suffixes; }
}
