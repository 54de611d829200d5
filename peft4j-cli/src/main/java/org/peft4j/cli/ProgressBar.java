package org.peft4j.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress of a loop of known length: step/total, the current loss, throughput and time left.
 *
 * <p>On a terminal a bar is redrawn in place with {@code \r} (at most every {@value #REDRAW_MILLIS}
 * ms) and every {@code logEvery} steps a permanent line is printed above it; the bar is erased by
 * {@link #finish()}, leaving only the permanent lines. Elsewhere (a pipe, a file, CI logs) only the
 * permanent lines are printed, so logs stay readable.
 */
public final class ProgressBar {
    static final int REDRAW_MILLIS = 100;
    private static final int BAR_WIDTH = 24;

    private final PrintStream out;
    private final long total;
    private final long firstStep;
    private final String unit;
    private final boolean interactive;
    private final long logEvery;
    private final LongSupplier nanoClock;
    private final long startNanos;
    private long lastDrawNanos;
    private boolean drawDue = true;
    private int barLength;

    /**
     * @param out         where to print
     * @param total       number of steps the loop will run
     * @param unit        what one processed item is, plural (e.g. "samples", "tokens"), for the rate
     * @param interactive whether {@code out} is a terminal (then the bar is redrawn in place)
     * @param logEvery    a permanent line every this many steps (and always at the last step)
     */
    public ProgressBar(PrintStream out, long total, String unit, boolean interactive, long logEvery) {
        this(out, total, 0, unit, interactive, logEvery, System::nanoTime);
    }

    /**
     * A bar for a loop that continues after {@code firstStep} steps done earlier (a resumed run): the
     * time left is estimated from the steps this bar has seen.
     */
    public ProgressBar(PrintStream out, long total, long firstStep, String unit, boolean interactive, long logEvery) {
        this(out, total, firstStep, unit, interactive, logEvery, System::nanoTime);
    }

    ProgressBar(PrintStream out, long total, String unit, boolean interactive, long logEvery, LongSupplier nanoClock) {
        this(out, total, 0, unit, interactive, logEvery, nanoClock);
    }

    ProgressBar(PrintStream out, long total, long firstStep, String unit, boolean interactive, long logEvery, LongSupplier nanoClock) {
        if (total < 1) throw new IllegalArgumentException("progress total must be >= 1, got " + total);
        if (firstStep < 0 || firstStep >= total) {
            throw new IllegalArgumentException("progress firstStep must be in [0, " + total + "), got " + firstStep);
        }
        if (logEvery < 1) throw new IllegalArgumentException("progress logEvery must be >= 1, got " + logEvery);
        this.out = out;
        this.total = total;
        this.firstStep = firstStep;
        this.unit = unit;
        this.interactive = interactive;
        this.logEvery = logEvery;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
    }

    /**
     * Reports that {@code step} steps (1-based, counting from the loop's start) are done, {@code items}
     * items were processed since this bar was made, and the loss of the latest step is {@code loss}.
     */
    public void update(long step, long items, double loss) {
        long now = nanoClock.getAsLong();
        double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
        String stats = String.format(Locale.ROOT, "%" + digits(total) + "d/%d  loss %.5g  %,.0f %s/s  ETA %s",
                step, total, loss, items / seconds, unit, formatDuration(seconds / Math.max(1, step - firstStep) * (total - step)));
        if (step % logEvery == 0 || step == total) {
            erase();
            out.println("  step " + stats);
            drawDue = true;
        }
        if (interactive && step < total && (drawDue || now - lastDrawNanos >= REDRAW_MILLIS * 1_000_000L)) {
            int filled = (int) (BAR_WIDTH * step / total);
            String bar = "  [" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "] " + stats;
            out.print("\r" + bar + " ".repeat(Math.max(0, barLength - bar.length())));
            out.flush();
            barLength = bar.length();
            lastDrawNanos = now;
            drawDue = false;
        }
    }

    /** Erases the bar on a terminal; call once the loop is over. */
    public void finish() {
        erase();
        out.flush();
    }

    private void erase() {
        if (barLength > 0) {
            out.print("\r" + " ".repeat(barLength) + "\r");
            barLength = 0;
        }
    }

    private static int digits(long n) { return Long.toString(n).length(); }

    /** 4.2s, 3m07s, 2h05m. */
    static String formatDuration(double seconds) {
        if (seconds < 60) return String.format(Locale.ROOT, "%.1fs", seconds);
        long s = Math.round(seconds);
        if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }
}
