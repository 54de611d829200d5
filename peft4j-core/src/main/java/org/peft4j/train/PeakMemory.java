package org.peft4j.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The process's peak memory: the kernel's high-water mark of resident memory ({@code VmHWM} in
 * {@code /proc/self/status}) where there is one (Linux), which counts the heap, memory-mapped weights
 * that were touched and native buffers; elsewhere the largest Java heap use seen by {@link #sample()}.
 */
public final class PeakMemory {
    private static final Path STATUS = Path.of("/proc/self/status");

    private long heapPeak;

    /** Records the current heap use (cheap; call it where memory is likely at its highest, e.g. after backward). */
    public void sample() {
        Runtime r = Runtime.getRuntime();
        heapPeak = Math.max(heapPeak, r.totalMemory() - r.freeMemory());
    }

    /** The resident-set high-water mark, or the sampled heap peak where the system does not report one. */
    public long peakBytes() {
        sample();
        OptionalLong rss = processPeakRss();
        return rss.isPresent() ? rss.getAsLong() : heapPeak;
    }

    /** {@code VmHWM} of this process in bytes, when {@code /proc/self/status} reports it. */
    public static OptionalLong processPeakRss() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (!line.startsWith("VmHWM:")) continue;
                String[] parts = line.substring(6).trim().split("\\s+");
                long kib = Long.parseLong(parts[0]);
                return OptionalLong.of(kib * 1024);
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc unreadable: the caller falls back on sampled heap use
        }
        return OptionalLong.empty();
    }
}
