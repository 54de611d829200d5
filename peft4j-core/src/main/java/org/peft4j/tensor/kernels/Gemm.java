package org.peft4j.tensor.kernels;

import static org.peft4j.tensor.kernels.GemmKernel.MR;
import static org.peft4j.tensor.kernels.GemmKernel.NR;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.peft4j.tensor.Parallel;

/**
 * Single-precision matrix multiply {@code C = alpha·A·B + beta·C}, where A (m×k) and B (k×n) are
 * {@link GemmOperand}s of any layout and storage and C is a row-major float array.
 *
 * <p>The loops follow the classic packed design. A band of B columns (all of k deep) is packed once,
 * shared by every worker, as panels of {@link #KC} rows cut into slivers of {@code NR} columns. C is
 * then cut into tiles of about {@link #MC} rows (× a chunk of the band's columns); the worker that
 * claims a tile walks it through every panel, packing the matching block of A into slivers of
 * {@code MR} rows, so the tile of C stays in L2 from the first panel to the last. Inside, one B
 * sliver is reused by every A sliver of the L2-resident block before the next one is touched.
 * Packing also absorbs transposition and BF16/F16 widening, so every layout runs the same kernel.
 *
 * <p>Blocking sizes were tuned on a 2-core Zen 4 (AVX-512); {@code -Dpeft4j.gemm.kc} and
 * {@code -Dpeft4j.gemm.mc} override them for other caches.
 *
 * <p>Workers ({@link Parallel}, one per physical core) claim tiles from a counter, which keeps both
 * cores busy even when one of them is slowed down by other load. Packing buffers live in
 * thread-locals and are reused across calls.
 */
public final class Gemm {
    /**
     * Depth of a packed panel. K = 384 (a common hidden size) fits in one, so C is written once; deeper
     * products revisit each C tile per panel while it is still in L2.
     */
    static final int KC = tuning("peft4j.gemm.kc", 384);
    /** Rows of A per tile: the packed block (MC × KC floats) stays in L2. */
    static final int MC = roundUp(tuning("peft4j.gemm.mc", 144), MR);
    /** Most floats of packed B shared by one band; bounds the band's width to this / k columns. */
    private static final int PACKED_B_FLOATS = 1 << 21;
    /** Most bytes of C per tile when the tile is revisited by several panels (it should stay in L2). */
    private static final int C_TILE_BYTES = 256 << 10;
    /** Below this many flops a product runs on the calling thread: forking would cost more than it saves. */
    private static final long PARALLEL_FLOPS = 1L << 21;
    /** B slivers a worker claims at a time while a band is packed. */
    private static final int PACK_GROUP = 2;
    /** Tiles per worker, so that a worker slowed down by other load does not hold the rest up. */
    private static final int TILES_PER_WORKER = 4;

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);
    private static final LongAdder CALLS = new LongAdder();

    private Gemm() {}

    /**
     * {@code C = alpha·A·B + beta·C} on all compute threads when the product is large enough. A is
     * m×k, B is k×n, and C holds element (i, j) at {@code c[cOffset + i·ldc + j]}. When beta is 0, C
     * is only written (NaN or garbage in it does not propagate).
     */
    public static void gemm(float alpha, GemmOperand a, GemmOperand b, float beta, float[] c, int cOffset, int ldc) {
        run(alpha, a, b, beta, c, cOffset, ldc, true);
    }

    /**
     * As {@link #gemm} but always on the calling thread, for callers that already run independent
     * products in parallel (for example the heads of a batched matmul).
     */
    public static void gemmSingleThread(float alpha, GemmOperand a, GemmOperand b, float beta,
                                        float[] c, int cOffset, int ldc) {
        run(alpha, a, b, beta, c, cOffset, ldc, false);
    }

    /**
     * BLAS-style sgemm on row-major arrays: {@code C = alpha·op(A)·op(B) + beta·C} with op(A) m×k and
     * op(B) k×n. Without transposition A is stored m×k with row stride lda; with it A is stored k×m
     * (likewise B: k×n or n×k with row stride ldb).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOffset, int lda, float[] b, int bOffset, int ldb,
                             float beta, float[] c, int cOffset, int ldc) {
        GemmOperand opA = transA ? GemmOperand.ofArray(a, aOffset, m, k, 1, lda) : GemmOperand.ofArray(a, aOffset, m, k, lda, 1);
        GemmOperand opB = transB ? GemmOperand.ofArray(b, bOffset, k, n, 1, ldb) : GemmOperand.ofArray(b, bOffset, k, n, ldb, 1);
        gemm(alpha, opA, opB, beta, c, cOffset, ldc);
    }

    /** Number of GEMM calls made since the JVM started (profiling, and tests that prove a product was skipped). */
    public static long callCount() { return CALLS.sum(); }

    private static void run(float alpha, GemmOperand a, GemmOperand b, float beta, float[] c, int cOffset, int ldc,
                            boolean parallel) {
        int m = a.rows, k = a.cols, n = b.cols;
        if (b.rows != k) {
            throw new IllegalArgumentException("GEMM inner dimensions differ: A is " + m + "×" + k + ", B is "
                    + b.rows + "×" + n);
        }
        checkOutput(c, cOffset, ldc, m, n);
        CALLS.increment();
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) {
            scale(c, cOffset, ldc, m, n, beta);
            return;
        }
        int threads = parallel && 2L * m * n * k >= PARALLEL_FLOPS ? Parallel.threads() : 1;
        new Product(alpha, a, b, beta, c, cOffset, ldc, threads).run();
    }

    private static void checkOutput(float[] c, int cOffset, int ldc, int m, int n) {
        if (m > 0 && n > 0) {
            if (cOffset < 0 || (m > 1 && ldc < n) || cOffset + (long) (m - 1) * ldc + n > c.length) {
                throw new IllegalArgumentException("C of " + m + "×" + n + " at offset " + cOffset + " with row stride "
                        + ldc + " does not fit in an array of " + c.length);
            }
        }
    }

    /** C = beta·C, writing zeros (not reading C) when beta is 0. */
    private static void scale(float[] c, int cOffset, int ldc, int m, int n, float beta) {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++) {
            int row = cOffset + i * ldc;
            for (int j = 0; j < n; j++) c[row + j] = beta == 0f ? 0f : beta * c[row + j];
        }
    }

    /** One call's operands and the band of B columns being computed. */
    private static final class Product {
        final float alpha, beta;
        final GemmOperand a, b;
        final float[] c;
        final int cOffset, ldc, m, n, k, threads;
        /** Panels of KC rows that cover k. */
        final int panels;
        /** Rows per tile, and how many tiles cover m. */
        final int mc, mBlocks;
        /** Widest band of B columns whose packed panels fit the shared buffer. */
        final int bandWidth;

        // the current band: columns jc .. jc+nc-1, packed into packedB, split into `chunks` column chunks
        int jc, nc, slivers, chunks;
        float[] packedB;

        Product(float alpha, GemmOperand a, GemmOperand b, float beta, float[] c, int cOffset, int ldc, int threads) {
            this.alpha = alpha;
            this.beta = beta;
            this.a = a;
            this.b = b;
            this.c = c;
            this.cOffset = cOffset;
            this.ldc = ldc;
            this.m = a.rows;
            this.k = a.cols;
            this.n = b.cols;
            this.threads = threads;
            this.panels = ceilDiv(k, KC);
            // Even row blocks, as many as a multiple of the worker count, so no worker is left with a stub.
            int blocks = ceilDiv(m, MC);
            if (threads > 1) blocks = roundUp(blocks, threads);
            this.mc = roundUp(ceilDiv(m, blocks), MR);
            this.mBlocks = ceilDiv(m, mc);
            this.bandWidth = Math.max(NR, PACKED_B_FLOATS / k / NR * NR);
        }

        void run() {
            Workspace own = WORKSPACE.get();
            for (jc = 0; jc < n; jc += bandWidth) {
                nc = Math.min(bandWidth, n - jc);
                slivers = ceilDiv(nc, NR);
                packedB = own.packedB(slivers * NR * k);
                chunks = columnChunks();
                int tiles = mBlocks * chunks;
                if (threads == 1) {
                    packB(0, panels * slivers);
                    for (int t = 0; t < tiles; t++) tile(own, t);
                } else {
                    // One fork per band: workers first claim groups of B slivers to pack, wait until the
                    // whole band is packed, then claim tiles. A worker that starts late (its core busy
                    // with another process) finds the work already done instead of holding it up.
                    int items = panels * slivers;
                    AtomicInteger nextPack = new AtomicInteger(), packed = new AtomicInteger(), nextTile = new AtomicInteger();
                    Parallel.forRange(Math.min(threads, tiles), 1, (s, e) -> {
                        Workspace ws = WORKSPACE.get();
                        for (int w = s; w < e; w++) {
                            for (int i; (i = nextPack.getAndAdd(PACK_GROUP)) < items; ) {
                                int to = Math.min(i + PACK_GROUP, items);
                                try {
                                    packB(i, to);
                                } finally {
                                    packed.addAndGet(to - i); // even on failure, so no one waits forever
                                }
                            }
                            // Yield after a short spin: a packer that lost its core may need this one.
                            for (int spins = 0; packed.get() < items; spins++) {
                                if (spins < 1 << 10) Thread.onSpinWait();
                                else Thread.yield();
                            }
                            for (int t; (t = nextTile.getAndIncrement()) < tiles; ) tile(ws, t);
                        }
                    });
                }
            }
        }

        /** Column chunks per row block: enough tiles for every worker, and C tiles that stay in L2. */
        private int columnChunks() {
            int wanted = threads * TILES_PER_WORKER;
            int forWorkers = mBlocks >= wanted ? 1 : ceilDiv(wanted, mBlocks);
            int forCache = panels == 1 ? 1 : (int) Math.min(Integer.MAX_VALUE, ceilDiv((long) mc * nc * 4, C_TILE_BYTES));
            return Math.min(slivers, Math.max(forWorkers, forCache));
        }

        /** Packs items [from, to) of the band, item = panel · slivers + sliver. */
        void packB(int from, int to) {
            for (int item = from; item < to; item++) {
                int panel = item / slivers, s = item % slivers;
                int pc = panel * KC, kc = Math.min(KC, k - pc);
                b.packB(packedB, panelOffset(panel) + s * NR * kc, pc, kc, jc + s * NR, Math.min(NR, nc - s * NR));
            }
        }

        /** Where panel q starts in packedB: every panel before it is KC rows deep. */
        private int panelOffset(int panel) { return panel * KC * slivers * NR; }

        /** One tile of C (a row block × a column chunk of the band) through every panel of k. */
        void tile(Workspace ws, int t) {
            int block = t / chunks, chunk = t % chunks;
            int i0 = block * mc, rows = Math.min(mc, m - i0);
            int aSlivers = ceilDiv(rows, MR);
            int s0 = (int) ((long) slivers * chunk / chunks), s1 = (int) ((long) slivers * (chunk + 1) / chunks);
            float[] packedA = ws.packedA(aSlivers * MR * Math.min(KC, k));
            float[] bp = packedB;
            for (int panel = 0; panel < panels; panel++) {
                int pc = panel * KC, kc = Math.min(KC, k - pc);
                float betaPanel = panel == 0 ? beta : 1f;
                a.packA(packedA, i0, rows, pc, kc, ws.scratch(rows * GemmOperand.COLUMN_GROUP));
                int bBase = panelOffset(panel);
                for (int s = s0; s < s1; s++) {
                    int j = jc + s * NR, cols = Math.min(NR, nc - s * NR);
                    int bi = bBase + s * NR * kc;
                    for (int r = 0; r < aSlivers; r++) {
                        int i = i0 + r * MR, tileRows = Math.min(MR, rows - r * MR);
                        int ci = cOffset + i * ldc + j;
                        if (tileRows == MR && cols == NR) {
                            GemmKernel.tile(kc, packedA, r * MR * kc, bp, bi, c, ci, ldc, alpha, betaPanel);
                        } else {
                            GemmKernel.tile(kc, packedA, r * MR * kc, bp, bi, ws.edge, 0, NR, 1f, 0f);
                            mergeEdge(ws.edge, tileRows, cols, ci, betaPanel);
                        }
                    }
                }
            }
        }

        /** Adds the valid part of a partial tile (computed into a scratch tile) into C. */
        private void mergeEdge(float[] tile, int rows, int cols, int ci, float betaPanel) {
            for (int r = 0; r < rows; r++) {
                int row = ci + r * ldc;
                for (int j = 0; j < cols; j++) {
                    float v = alpha * tile[r * NR + j];
                    c[row + j] = betaPanel == 0f ? v : v + betaPanel * c[row + j];
                }
            }
        }
    }

    /** Per-thread packing buffers, grown on demand and kept for the next call. */
    private static final class Workspace {
        private float[] packedA = new float[0];
        private float[] packedB = new float[0];
        private float[] scratch = new float[0];
        final float[] edge = new float[MR * NR];

        float[] packedA(int size) {
            if (packedA.length < size) packedA = new float[size];
            return packedA;
        }

        float[] packedB(int size) {
            if (packedB.length < size) packedB = new float[size];
            return packedB;
        }

        float[] scratch(int size) {
            if (scratch.length < size) scratch = new float[size];
            return scratch;
        }
    }

    private static int ceilDiv(int x, int y) { return (x + y - 1) / y; }

    private static long ceilDiv(long x, long y) { return (x + y - 1) / y; }

    private static int roundUp(int x, int multiple) { return ceilDiv(x, multiple) * multiple; }

    private static int tuning(String property, int fallback) {
        String v = System.getProperty(property);
        return v == null ? fallback : Integer.parseInt(v.trim());
    }
}
