package org.peft4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cuts long prose into passages of whole sentences, so that one passage fits a model's input (about
 * 100 words is about 130 WordPiece tokens).
 */
final class Passages {
    /** A sentence ends at . ! or ? (maybe followed by a closing quote or bracket) before whitespace. */
    private static final Pattern SENTENCE_END = Pattern.compile("[.!?][\"'”’)\\]]*(?=\\s+)");

    private Passages() {}

    /**
     * Consecutive sentences of {@code text} packed greedily into passages of at most {@code maxWords}
     * words; a single longer sentence is a passage of its own. Whitespace runs become single spaces.
     */
    static List<String> of(String text, int maxWords) {
        List<String> passages = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int words = 0;
        for (String sentence : sentences(text)) {
            int n = wordCount(sentence);
            if (words > 0 && words + n > maxWords) {
                passages.add(current.toString());
                current.setLength(0);
                words = 0;
            }
            if (!current.isEmpty()) current.append(' ');
            current.append(sentence);
            words += n;
        }
        if (!current.isEmpty()) passages.add(current.toString());
        return passages;
    }

    private static List<String> sentences(String text) {
        String s = EmailText.collapse(text);
        List<String> sentences = new ArrayList<>();
        Matcher m = SENTENCE_END.matcher(s);
        int start = 0;
        while (m.find()) {
            sentences.add(s.substring(start, m.end()).strip());
            start = m.end();
        }
        if (start < s.length() && !s.substring(start).isBlank()) sentences.add(s.substring(start).strip());
        return sentences;
    }

    private static int wordCount(String s) {
        int n = 0;
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            boolean space = s.charAt(i) == ' ';
            if (!space && !inWord) n++;
            inWord = !space;
        }
        return n;
    }
}
