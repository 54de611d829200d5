package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    /** A fake clock: each reading is 100 ms after the previous one, so every redraw is due. */
    private long now;

    private long tick() { return now += 100_000_000L; }

    private String text() { return bytes.toString(StandardCharsets.UTF_8); }

    @Test
    void plainOutputHasOnlyPeriodicLinesAndTheLast() {
        ProgressBar bar = new ProgressBar(out, 5, "samples", false, 2, this::tick);
        for (int step = 1; step <= 5; step++) bar.update(step, step * 10L, 1.0 / step);
        bar.finish();
        String[] lines = text().split("\n");
        assertEquals(3, lines.length, text());
        assertTrue(lines[0].startsWith("  step 2/5  loss 0.50000  "), lines[0]);
        assertTrue(lines[1].startsWith("  step 4/5  loss 0.25000  "), lines[1]);
        assertTrue(lines[2].startsWith("  step 5/5  loss 0.20000  "), lines[2]);
        // 20 samples in 0.2 s after the start; 3 steps left at 0.1 s a step.
        assertTrue(lines[0].endsWith("  100 samples/s  ETA 0.3s"), lines[0]);
        assertTrue(lines[2].endsWith("ETA 0.0s"), lines[2]);
        assertFalse(text().contains("\r"));
    }

    @Test
    void terminalOutputRedrawsABarAndErasesIt() {
        ProgressBar bar = new ProgressBar(out, 4, "samples", true, 4, this::tick);
        bar.update(1, 8, 2.0);
        bar.update(2, 16, 1.0);
        String drawn = text();
        assertTrue(drawn.startsWith("\r  [######..................] 1/4  loss 2.0000"), drawn);
        assertTrue(drawn.contains("\r  [############............] 2/4  loss 1.0000"), drawn);
        bar.update(3, 24, 0.5);
        bar.update(4, 32, 0.25);
        bar.finish();
        String all = text();
        assertTrue(all.contains("  step 4/4  loss 0.25000"), all);
        // The permanent line is the last thing printed and the bar was erased before it.
        assertTrue(all.endsWith("ETA 0.0s\n"), all);
        String beforeLine = all.substring(0, all.lastIndexOf("  step 4/4"));
        assertTrue(beforeLine.endsWith(" \r"), "bar erased before the permanent line");
    }

    @Test
    void redrawIsThrottled() {
        long[] clock = {0};
        ProgressBar bar = new ProgressBar(out, 1000, "samples", true, 1000, () -> clock[0] += 1_000);
        for (int step = 1; step < 1000; step++) bar.update(step, step, 1);
        assertEquals(1, text().chars().filter(ch -> ch == '\r').count(), "one draw within 1 ms");
    }

    @Test
    void aResumedLoopEstimatesFromItsOwnSteps() {
        // 6 of 10 steps were done before; each new step takes 0.1 s, so 2 steps left take 0.2 s
        ProgressBar bar = new ProgressBar(out, 10, 6, "tokens", false, 1, this::tick);
        bar.update(7, 100, 0.5);
        bar.update(8, 200, 0.4);
        String[] lines = text().split("\n");
        assertTrue(lines[1].startsWith("  step  8/10  loss 0.40000  "), lines[1]);
        assertTrue(lines[1].endsWith("  1,000 tokens/s  ETA 0.2s"), lines[1]);
        assertThrows(IllegalArgumentException.class, () -> new ProgressBar(out, 10, 10, "tokens", false, 1));
    }

    @Test
    void durations() {
        assertEquals("4.2s", ProgressBar.formatDuration(4.2));
        assertEquals("3m07s", ProgressBar.formatDuration(187));
        assertEquals("2h05m", ProgressBar.formatDuration(2 * 3600 + 5 * 60 + 10));
    }

    @Test
    void rejectsEmptyLoops() {
        assertThrows(IllegalArgumentException.class, () -> new ProgressBar(out, 0, "samples", false, 1));
    }
}
