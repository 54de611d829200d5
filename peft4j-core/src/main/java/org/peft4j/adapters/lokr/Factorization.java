package org.peft4j.adapters.lokr;

/** How LoKr splits a layer size into the sizes of its two Kronecker factors, as PEFT (after LyCORIS) does. */
public final class Factorization {
    private Factorization() {}

    /**
     * {@code dimension = m · n}. A positive {@code factor} that divides the dimension is taken as m. Otherwise
     * m grows through the divisors of the dimension while m stays below n and does not exceed
     * {@code factor} (-1: no limit, so m ends at the largest divisor up to the square root); the pair is
     * returned smaller first. Any other factor (0, below -1) keeps m = 1, as in PEFT.
     */
    public static int[] split(int dimension, int factor) {
        if (dimension <= 0) throw new IllegalArgumentException("cannot factorise dimension " + dimension);
        if (factor > 0 && dimension % factor == 0) return new int[] {factor, dimension / factor};
        int limit = factor == -1 ? dimension : factor;
        int m = 1, n = dimension;
        while (m < n) {
            int next = m + 1;
            while (dimension % next != 0) next++;
            if (next > limit) break;
            m = next;
            n = dimension / next;
        }
        return m > n ? new int[] {n, m} : new int[] {m, n};
    }
}
