package org.peft4j.tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The compute pool: one worker per physical core (hyper-threads share the FMA units, so more workers
 * only add contention). {@code -Dpeft4j.threads=N} or {@link #setThreads} overrides it.
 */
public final class Parallel {
    /** A body that handles indices [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static volatile int threads = initialThreads();
    private static volatile ForkJoinPool pool = new ForkJoinPool(threads);

    private Parallel() {}

    public static int threads() { return threads; }

    /** Changes the worker count (used by benchmarks to compare 1 and 2 threads). */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n == threads) return;
        ForkJoinPool old = pool;
        pool = new ForkJoinPool(n);
        threads = n;
        old.shutdown();
    }

    /**
     * Runs body over [0, n) split into at most {@link #threads()} contiguous chunks of at least
     * {@code grain} indices; runs inline when one chunk suffices. Chunks are claimed, not assigned: the
     * calling thread takes every chunk no worker has started, so a worker that is late (its core busy
     * elsewhere) never holds the caller up.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int t = threads;
        int chunks = Math.max(1, Math.min(t, n / Math.max(1, grain)));
        if (chunks <= 1 || ForkJoinTask.getPool() == pool) {
            body.run(0, n);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(chunks);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable claim = () -> {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                try {
                    body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    finished.countDown();
                }
            }
        };
        for (int c = 1; c < chunks; c++) pool.execute(claim);
        claim.run();
        try {
            finished.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error err) throw err;
        if (e != null) throw new RuntimeException(e);
    }

    private static int initialThreads() {
        String prop = System.getProperty("peft4j.threads");
        if (prop != null) return Math.max(1, Integer.parseInt(prop.trim()));
        return physicalCores();
    }

    /** Physical cores from /proc/cpuinfo (distinct physical id + core id pairs), else available processors. */
    static int physicalCores() {
        int logical = Runtime.getRuntime().availableProcessors();
        try {
            Path p = Path.of("/proc/cpuinfo");
            if (!Files.isReadable(p)) return logical;
            Set<String> cores = new HashSet<>();
            String physical = "0";
            for (String line : Files.readAllLines(p)) {
                if (line.startsWith("physical id")) physical = line.substring(line.indexOf(':') + 1).trim();
                else if (line.startsWith("core id")) cores.add(physical + ":" + line.substring(line.indexOf(':') + 1).trim());
            }
            // A container may see fewer logical CPUs than the host has cores.
            return cores.isEmpty() ? logical : Math.max(1, Math.min(cores.size(), logical));
        } catch (Exception e) {
            return logical;
        }
    }
}
