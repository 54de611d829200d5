package org.peft4j.adapters.composition;

import java.util.ArrayList;
import java.util.List;

/** Recursive-descent parser of the textual composition form. */
final class CompositionParser {
    private final String text;
    private int pos;

    private CompositionParser(String text) { this.text = text; }

    static Composition parse(String text) {
        CompositionParser p = new CompositionParser(text);
        Composition c = p.block();
        p.skipSpaces();
        if (p.pos != text.length()) throw p.error("unexpected '" + text.charAt(p.pos) + "'");
        return c;
    }

    private Composition block() {
        String word = word();
        skipSpaces();
        if (pos >= text.length() || text.charAt(pos) != '(') return new Single(word);
        pos++;
        List<Composition> children = new ArrayList<>();
        List<Double> numbers = new ArrayList<>();
        boolean inNumbers = false;
        while (true) {
            skipSpaces();
            if (inNumbers) numbers.add(Double.parseDouble(word()));
            else children.add(block());
            skipSpaces();
            if (pos >= text.length()) throw error("missing ')'");
            char c = text.charAt(pos++);
            if (c == ')') break;
            if (c == ';' && !inNumbers) inNumbers = true;
            else if (c != ',') throw error("expected ',' ';' or ')'");
        }
        return switch (word) {
            case "Stack" -> new Stack(children);
            case "Fuse" -> new Fuse(children);
            case "Parallel" -> new Parallel(children);
            case "BatchSplit" -> new BatchSplit(children, numbers.stream().map(Double::intValue).toList());
            case "Average" -> new Average(children, numbers);
            default -> throw error("unknown block '" + word + "'; valid: Stack, Fuse, Parallel, BatchSplit, Average");
        };
    }

    private String word() {
        skipSpaces();
        int start = pos;
        while (pos < text.length() && "(),; ".indexOf(text.charAt(pos)) < 0) pos++;
        if (start == pos) throw error("expected a name");
        return text.substring(start, pos);
    }

    private void skipSpaces() {
        while (pos < text.length() && text.charAt(pos) == ' ') pos++;
    }

    private IllegalArgumentException error(String why) {
        return new IllegalArgumentException("composition '" + text + "' at " + pos + ": " + why);
    }
}
