package org.peft4j.adapters.lokr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

class FactorizationTest {
    @Test
    void splitsLikePeft() {
        // PEFT's documented examples, and the sizes of the fixtures' layers.
        assertArrayEquals(new int[] {16, 16}, Factorization.split(256, -1));
        assertArrayEquals(new int[] {8, 16}, Factorization.split(128, -1));
        assertArrayEquals(new int[] {1, 127}, Factorization.split(127, -1));
        assertArrayEquals(new int[] {4, 32}, Factorization.split(128, 4));
        assertArrayEquals(new int[] {4, 8}, Factorization.split(32, -1));
        assertArrayEquals(new int[] {8, 8}, Factorization.split(64, -1));
        assertArrayEquals(new int[] {4, 4}, Factorization.split(16, -1));
        assertArrayEquals(new int[] {24, 32}, Factorization.split(768, -1));
        assertArrayEquals(new int[] {48, 64}, Factorization.split(3072, -1));
        assertArrayEquals(new int[] {1, 1}, Factorization.split(1, -1));
    }

    @Test
    void factorRules() {
        // A dividing factor is taken as is, even above the square root.
        assertArrayEquals(new int[] {64, 2}, Factorization.split(128, 64));
        // A non-dividing factor caps the search: divisors of 128 up to 6 are 2 and 4.
        assertArrayEquals(new int[] {4, 32}, Factorization.split(128, 6));
        // Factors other than -1 and positive ones keep m = 1, as PEFT does.
        assertArrayEquals(new int[] {1, 128}, Factorization.split(128, 0));
    }
}
