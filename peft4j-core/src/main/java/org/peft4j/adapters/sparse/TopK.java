package org.peft4j.adapters.sparse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * Activation sparsity: how many bottleneck units stay non-zero per token, as a count ({@code top_k=8})
 * or a fraction of the bottleneck ({@code top_k=0.25}); {@link #NONE} keeps them all.
 *
 * @param count    units kept (0 when given as a fraction or off)
 * @param fraction fraction of the bottleneck kept (0 when given as a count or off)
 */
public record TopK(int count, double fraction) {
    /** No activation sparsity. */
    public static final TopK NONE = new TopK(0, 0);

    public TopK {
        if (count < 0 || !(fraction >= 0 && fraction <= 1) || (count > 0 && fraction > 0)) {
            throw new IllegalArgumentException("top_k needs a count >= 1 or a fraction in (0, 1], got count " + count + ", fraction " + fraction);
        }
    }

    /** A whole number of at least 1 is a count; a number with a decimal point or below 1 is a fraction. */
    static TopK parse(String s) {
        String t = s.trim();
        try {
            if (t.matches("\\d+")) {
                int n = Integer.parseInt(t);
                if (n < 1) throw new IllegalArgumentException("top_k must be a count >= 1 or a fraction in (0, 1], got '" + s + "'");
                return new TopK(n, 0);
            }
            double f = Double.parseDouble(t);
            if (!(f > 0 && f <= 1)) throw new IllegalArgumentException("top_k must be a count >= 1 or a fraction in (0, 1], got '" + s + "'");
            return new TopK(0, f);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("top_k must be a count >= 1 or a fraction in (0, 1], got '" + s + "'");
        }
    }

    public boolean isNone() { return count == 0 && fraction == 0; }

    /**
     * The units kept per token in a bottleneck of {@code width} units: 0 when off, else the count
     * (an error when it exceeds the width) or round(fraction · width), at least 1.
     */
    public int k(int width) {
        if (isNone()) return 0;
        if (count > 0) {
            if (count > width) throw new IllegalArgumentException("top_k=" + count + " exceeds the bottleneck size " + width);
            return count;
        }
        return (int) Math.max(1, Math.round(fraction * width));
    }

    /** The count or the fraction, or JSON null when off. */
    JsonNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (isNone()) return f.nullNode();
        return count > 0 ? f.numberNode(count) : f.numberNode(fraction);
    }
}
