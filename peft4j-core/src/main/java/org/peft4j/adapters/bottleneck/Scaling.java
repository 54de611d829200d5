package org.peft4j.adapters.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * The factor on the bottleneck's output: a fixed number, a learned scalar ({@code learned}, starting at
 * 1, shape [1]) or a learned per-channel vector ({@code channel}, starting at 1, shape [hidden]).
 */
public record Scaling(Mode mode, double value) {
    /** How the factor is obtained. */
    public enum Mode { FIXED, LEARNED, CHANNEL }

    public static Scaling fixed(double value) { return new Scaling(Mode.FIXED, value); }

    /** Parses a number, {@code learned} or {@code channel}. */
    public static Scaling parse(String text) {
        String t = text.trim();
        if (t.equalsIgnoreCase("learned")) return new Scaling(Mode.LEARNED, 1);
        if (t.equalsIgnoreCase("channel")) return new Scaling(Mode.CHANNEL, 1);
        try {
            return fixed(Double.parseDouble(t));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("scaling must be a number, 'learned' or 'channel', got '" + text + "'");
        }
    }

    /** The shape of the learned factor for a model of width {@code hidden}, or null when fixed. */
    public int[] parameterShape(int hidden) {
        return switch (mode) {
            case FIXED -> null;
            case LEARNED -> new int[] {1};
            case CHANNEL -> new int[] {hidden};
        };
    }

    public JsonNode toJson() {
        return switch (mode) {
            case FIXED -> JsonNodeFactory.instance.numberNode(value);
            case LEARNED -> JsonNodeFactory.instance.textNode("learned");
            case CHANNEL -> JsonNodeFactory.instance.textNode("channel");
        };
    }

    @Override
    public String toString() { return toJson().asText(); }
}
