package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SplitsTest {
    /** 700 "a", 250 "b", 50 "c" examples, interleaved; texts are unique so examples can be told apart. */
    private static Dataset classes() {
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < 1000; i++) examples.add(Example.labeled("text " + i, i % 20 == 7 ? "c" : i % 4 == 1 ? "b" : "a"));
        return new Dataset("classes", TaskType.CLASSIFICATION, examples, List.of("c", "b", "a"));
    }

    @Test
    void sameSeedSameSplitAndOtherSeedOtherSplit() {
        Dataset d = classes();
        Splits a = Datasets.split(d, 0.1, 0.1, 42);
        Splits b = Datasets.split(d, 0.1, 0.1, 42);
        assertEquals(a, b);
        assertNotEquals(a.test().examples(), Datasets.split(d, 0.1, 0.1, 43).test().examples());
    }

    @Test
    void splitIsPinnedAcrossMachines() {
        // java.util.Random's sequence is specified, so these never change; a change means the split changed.
        Splits s = Datasets.split(classes(), 42);
        assertEquals(List.of("text 5", "text 18", "text 20", "text 34", "text 37"),
                s.test().examples().subList(0, 5).stream().map(Example::text).toList());
    }

    @Test
    void partsAreDisjointCompleteOrderedAndStratified() {
        Dataset d = classes();
        Splits s = Datasets.split(d, 0.1, 0.2, 7);
        assertEquals(List.of("a", "b", "c"), s.train().labels());
        Set<String> all = new HashSet<>();
        for (Dataset part : List.of(s.train(), s.dev(), s.test())) {
            for (Example e : part.examples()) assertTrue(all.add(e.text()), "twice: " + e.text());
            List<Integer> order = part.examples().stream().map(e -> Integer.parseInt(e.text().substring(5))).toList();
            assertEquals(order.stream().sorted().toList(), order, "keeps the dataset's order");
        }
        assertEquals(1000, all.size());
        assertEquals(Map.of("a", 70, "b", 25, "c", 5), s.dev().labelCounts());
        assertEquals(Map.of("a", 140, "b", 50, "c", 10), s.test().labelCounts());
        assertEquals(Map.of("a", 490, "b", 175, "c", 35), s.train().labelCounts());
    }

    @Test
    void oddClassSizesStillAddUpToTheFractions() {
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < 103; i++) examples.add(Example.labeled("t" + i, "k" + (i % 7)));
        Splits s = Datasets.split(new Dataset("odd", TaskType.CLASSIFICATION, examples, List.of("k0", "k1", "k2", "k3", "k4", "k5", "k6")), 0.1, 0.1, 1);
        assertEquals(10, s.test().size());
        assertEquals(10, s.dev().size());
        assertEquals(83, s.train().size());
        for (int count : s.test().labelCounts().values()) assertTrue(count == 1 || count == 2, s.test().labelCounts().toString());
    }

    @Test
    void regressionIsStratifiedByValueQuantile() {
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < 500; i++) examples.add(Example.valued("w" + i, (i * 37 % 500) / 50.0 - 5));
        Splits s = Datasets.split(new Dataset("reg", TaskType.REGRESSION, examples, List.of()), 0.1, 0.1, 3);
        assertEquals(50, s.test().size());
        assertEquals(50, s.dev().size());
        // one test example per run of 10 in value order: the test values cover the range evenly
        List<Double> values = s.test().examples().stream().map(Example::value).sorted().toList();
        for (int k = 0; k < 50; k++) {
            assertTrue(values.get(k) >= -5 + k * 0.2 - 1e-9 && values.get(k) < -5 + (k + 1) * 0.2, "quantile " + k + ": " + values.get(k));
        }
    }

    @Test
    void causalLmSplitAndBadFractions() {
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < 40; i++) examples.add(Example.plain("p" + i));
        Splits s = Datasets.split(new Dataset("lm", TaskType.CAUSAL_LM, examples, List.of()), 0.0, 0.25, 9);
        assertEquals(0, s.dev().size());
        assertEquals(10, s.test().size());
        assertEquals(30, s.train().size());
        assertThrows(IllegalArgumentException.class, () -> Datasets.split(s.train(), 0.5, 0.5, 1));
        assertThrows(IllegalArgumentException.class, () -> Datasets.split(s.train(), -0.1, 0.1, 1));
    }
}
