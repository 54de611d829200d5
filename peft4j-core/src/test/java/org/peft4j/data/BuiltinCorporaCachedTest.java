package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The real built-in corpora, checked only where the user's cache already holds their tarballs (e.g. after
 * {@code peft4j demo}); nothing here downloads. The counts are fixed by the pinned package versions.
 */
class BuiltinCorporaCachedTest {
    private static Dataset cached(String name) throws IOException {
        Assumptions.assumeTrue(BuiltinCorpora.isCached(name), () -> "builtin:" + name + " is not in " + BuiltinCorpora.cacheDir());
        return Datasets.load("builtin:" + name);
    }

    @Test
    void spamAssassin() throws IOException {
        Dataset d = cached("spam-assassin");
        assertEquals(Map.of("ham", 4108, "spam", 1806), d.labelCounts()); // 6046 emails less 132 duplicate texts
        // Every raw email carries these routing headers; a text may only quote one in its body (mailing-list
        // discussions of SpamAssassin itself, bounces), which a handful do.
        for (String header : List.of("localhost [127.0.0.1]", "Return-Path:", "X-Spam-Status:", "Delivered-To:", "Message-Id:")) {
            long n = d.examples().stream().filter(e -> e.text().contains(header)).count();
            assertTrue(n < 30, n + " texts contain " + header);
        }
    }

    @Test
    void sotu() throws IOException {
        Dataset d = cached("sotu");
        assertEquals(List.of("Democratic", "Democratic-Republican", "Federalist", "National Union", "Republican", "Whig", "Whig & Democratic", "none"), d.labels());
        assertEquals(21904, d.size());
    }

    @Test
    void afinn() throws IOException {
        Dataset d = cached("afinn");
        assertEquals(TaskType.REGRESSION, d.task());
        assertEquals(2477, d.size());
    }

    @Test
    void mobyDick() throws IOException {
        Dataset d = cached("moby-dick");
        assertEquals(TaskType.CAUSAL_LM, d.task());
        assertEquals(3657, d.size());
        assertTrue(d.examples().get(0).text().startsWith("Call me Ishmael."));
    }
}
