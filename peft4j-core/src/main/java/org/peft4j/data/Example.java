package org.peft4j.data;

/**
 * One example of a dataset.
 *
 * @param text the text (the first text of a pair)
 * @param textPair the second text of a pair, or null
 * @param label the label name (classification), else null
 * @param value the regression target; NaN for other tasks
 * @param line the 1-based line of the source file the example starts on, 0 if it has none
 */
public record Example(String text, String textPair, String label, double value, int line) {

    public Example {
        if (text == null) throw new IllegalArgumentException("example text is null (line " + line + ")");
    }

    /** A classification example with no source line. */
    public static Example labeled(String text, String label) {
        return new Example(text, null, label, Double.NaN, 0);
    }

    /** A regression example with no source line. */
    public static Example valued(String text, double value) {
        return new Example(text, null, null, value, 0);
    }

    /** A causal-LM example (text only) with no source line. */
    public static Example plain(String text) {
        return new Example(text, null, null, Double.NaN, 0);
    }

    public boolean isPair() { return textPair != null; }
}
