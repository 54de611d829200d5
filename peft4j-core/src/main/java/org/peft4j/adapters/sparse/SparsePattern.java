package org.peft4j.adapters.sparse;

import java.util.Arrays;

/**
 * The fixed positions of the kept weights of one [rows, cols] matrix, in compressed-sparse-row form:
 * row {@code o} keeps the columns {@code colIndex[rowStart[o] .. rowStart[o + 1])}, ascending. Entry
 * {@code j} of a pattern's value vector is the weight at ({@code rowOf(j)}, {@code colIndex[j]}), so
 * values are in row-major order of their positions. Immutable.
 */
public final class SparsePattern {
    private final int rows;
    private final int cols;
    private final int[] rowStart;
    private final int[] colIndex;
    /** The [cols, rows] pattern of Wᵀ and, per entry of it, the index of the same weight here; made on first use. */
    private volatile Transposed transposed;

    /** Wᵀ's pattern and the map from its entries to this pattern's value order. */
    record Transposed(SparsePattern pattern, int[] source) {}

    private SparsePattern(int rows, int cols, int[] rowStart, int[] colIndex) {
        this.rows = rows;
        this.cols = cols;
        this.rowStart = rowStart;
        this.colIndex = colIndex;
    }

    /** Every position kept (density 1). */
    public static SparsePattern full(int rows, int cols) {
        checkSize(rows, cols);
        int[] start = new int[rows + 1], col = new int[rows * cols];
        for (int o = 0; o < rows; o++) {
            start[o + 1] = (o + 1) * cols;
            for (int i = 0; i < cols; i++) col[o * cols + i] = i;
        }
        return new SparsePattern(rows, cols, start, col);
    }

    /** The positions where {@code keep} (row-major, rows × cols entries) is true. */
    public static SparsePattern ofMask(int rows, int cols, boolean[] keep) {
        checkSize(rows, cols);
        if (keep.length != rows * cols) {
            throw new IllegalArgumentException("mask of " + keep.length + " entries for a " + rows + "x" + cols + " matrix");
        }
        int nnz = 0;
        for (boolean k : keep) if (k) nnz++;
        int[] start = new int[rows + 1], col = new int[nnz];
        int j = 0;
        for (int o = 0; o < rows; o++) {
            for (int i = 0; i < cols; i++) if (keep[o * cols + i]) col[j++] = i;
            start[o + 1] = j;
        }
        return new SparsePattern(rows, cols, start, col);
    }

    /** The positions {@code row * cols + col} listed in {@code flat}, which must be strictly increasing and in range. */
    public static SparsePattern ofFlatIndices(int rows, int cols, int[] flat) {
        checkSize(rows, cols);
        long n = (long) rows * cols;
        int[] start = new int[rows + 1], col = new int[flat.length];
        for (int j = 0; j < flat.length; j++) {
            if (flat[j] < 0 || flat[j] >= n) {
                throw new IllegalArgumentException("index " + flat[j] + " at entry " + j + " is outside a " + rows + "x" + cols + " matrix");
            }
            if (j > 0 && flat[j] <= flat[j - 1]) {
                throw new IllegalArgumentException("indices must be strictly increasing; entry " + j + " is " + flat[j]
                        + " after " + flat[j - 1]);
            }
            col[j] = flat[j] % cols;
            start[flat[j] / cols + 1]++;
        }
        for (int o = 0; o < rows; o++) start[o + 1] += start[o];
        return new SparsePattern(rows, cols, start, col);
    }

    /** The positions of the set bits of {@code packed}: bit {@code p % 8} of byte {@code p / 8} for position p (little-endian bit order). */
    public static SparsePattern ofPackedMask(int rows, int cols, byte[] packed) {
        checkSize(rows, cols);
        int n = rows * cols;
        if (packed.length != packedLength(n)) {
            throw new IllegalArgumentException("packed mask of " + packed.length + " bytes for a " + rows + "x" + cols
                    + " matrix; expected " + packedLength(n));
        }
        boolean[] keep = new boolean[n];
        for (int p = 0; p < n; p++) keep[p] = (packed[p >>> 3] >>> (p & 7) & 1) != 0;
        for (int p = n; p < packed.length * 8; p++) {
            if ((packed[p >>> 3] >>> (p & 7) & 1) != 0) throw new IllegalArgumentException("packed mask sets bit " + p + " beyond " + n + " entries");
        }
        return ofMask(rows, cols, keep);
    }

    /** Bytes of a packed mask of {@code n} positions. */
    public static int packedLength(int n) { return (n + 7) >>> 3; }

    private static void checkSize(int rows, int cols) {
        if (rows < 1 || cols < 1 || (long) rows * cols > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("sparse matrix size " + rows + "x" + cols + " must be positive and below 2^31 entries");
        }
    }

    public int rows() { return rows; }

    public int cols() { return cols; }

    /** The number of kept positions. */
    public int nnz() { return colIndex.length; }

    /** Kept fraction of the rows × cols positions. */
    public double density() { return (double) colIndex.length / ((long) rows * cols); }

    /** The kept positions as {@code row * cols + col}, ascending (the order of the values). */
    public int[] flatIndices() {
        int[] out = new int[colIndex.length];
        for (int o = 0; o < rows; o++) {
            for (int j = rowStart[o]; j < rowStart[o + 1]; j++) out[j] = o * cols + colIndex[j];
        }
        return out;
    }

    /** The kept positions as a packed bit mask ({@link #ofPackedMask}'s layout). */
    public byte[] packedMask() {
        byte[] out = new byte[packedLength(rows * cols)];
        for (int p : flatIndices()) out[p >>> 3] |= (byte) (1 << (p & 7));
        return out;
    }

    /** The dense [rows, cols] row-major matrix with {@code values} at the kept positions and zeros elsewhere. */
    public double[] scatter(double[] values) {
        checkValues(values.length);
        double[] out = new double[rows * cols];
        for (int o = 0; o < rows; o++) {
            for (int j = rowStart[o]; j < rowStart[o + 1]; j++) out[o * cols + colIndex[j]] = values[j];
        }
        return out;
    }

    /** The entries of a dense row-major [rows, cols] matrix at the kept positions (the inverse of {@link #scatter}). */
    public double[] gather(double[] dense) {
        if (dense.length != rows * cols) {
            throw new IllegalArgumentException("dense matrix of " + dense.length + " entries for a " + rows + "x" + cols + " pattern");
        }
        double[] out = new double[colIndex.length];
        for (int o = 0; o < rows; o++) {
            for (int j = rowStart[o]; j < rowStart[o + 1]; j++) out[j] = dense[o * cols + colIndex[j]];
        }
        return out;
    }

    void checkValues(long count) {
        if (count != colIndex.length) {
            throw new IllegalArgumentException("sparse weight values have " + count + " entries but the pattern keeps " + colIndex.length);
        }
    }

    /**
     * The pattern of Wᵀ (compressed by column of W) and, for each of its entries, the index of that weight
     * in this pattern's values, so {@code valuesT[j] = values[source[j]]}. Computed once and kept.
     */
    Transposed transposed() {
        Transposed t = transposed;
        if (t == null) {
            int[] start = new int[cols + 1], row = new int[colIndex.length], source = new int[colIndex.length];
            for (int c : colIndex) start[c + 1]++;
            for (int c = 0; c < cols; c++) start[c + 1] += start[c];
            int[] next = Arrays.copyOf(start, cols);
            for (int o = 0; o < rows; o++) {
                for (int j = rowStart[o]; j < rowStart[o + 1]; j++) {
                    int k = next[colIndex[j]]++;
                    row[k] = o;
                    source[k] = j;
                }
            }
            t = new Transposed(new SparsePattern(cols, rows, start, row), source);
            transposed = t;
        }
        return t;
    }

    /** CSR row offsets (shared, not copied: callers only read). */
    int[] rowStart() { return rowStart; }

    /** CSR column indices (shared, not copied: callers only read). */
    int[] colIndex() { return colIndex; }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparsePattern p && p.rows == rows && p.cols == cols && Arrays.equals(p.rowStart, rowStart)
                && Arrays.equals(p.colIndex, colIndex);
    }

    @Override
    public int hashCode() { return 31 * (31 * rows + cols) + Arrays.hashCode(colIndex); }

    @Override
    public String toString() { return "SparsePattern[" + rows + "x" + cols + ", nnz " + nnz() + "]"; }
}
