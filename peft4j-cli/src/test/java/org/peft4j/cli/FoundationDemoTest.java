package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FoundationDemoTest {
    @Test
    void trainsTheLowRankUpdateAndNeverTouchesTheFrozenWeight() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        long start = System.nanoTime();
        FoundationDemo.Result r = new FoundationDemo(FoundationDemo.Config.DEFAULT).run(out, false);
        double seconds = (System.nanoTime() - start) / 1e9;
        String text = bytes.toString(StandardCharsets.UTF_8);

        assertEquals(8 * 256 + 256 * 8, r.trainableParams());
        assertEquals(256 * 256 + r.trainableParams(), r.totalParams());
        assertTrue(r.finalLoss() < r.initialLoss() / 100, "loss " + r.initialLoss() + " -> " + r.finalLoss());
        assertTrue(r.updateError() < 0.1, "learned update off by " + r.updateError());
        assertTrue(r.frozenGradIsNull());
        assertFalse(r.frozenPathOnTape());
        assertTrue(seconds < 5, "demo took " + seconds + " s");

        assertTrue(text.contains("4,096 of 69,632 parameters (5.88%)"), text);
        assertTrue(text.contains("  step 300/300  loss "), text);
        assertTrue(text.contains("grad() is null after 300 backward passes"), text);
        assertFalse(text.contains("\r"), "plain output when not on a terminal");
    }

    @Test
    void aShortRunStillLowersTheLoss() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        FoundationDemo.Config config = FoundationDemo.Config.DEFAULT.withSteps(60).withSeed(3);
        FoundationDemo.Result r = new FoundationDemo(config).run(new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
        assertTrue(r.finalLoss() < r.initialLoss() / 2, "loss " + r.initialLoss() + " -> " + r.finalLoss());
    }

    @Test
    void rejectsSamplesThatDoNotSplitIntoBatches() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new FoundationDemo.Config(16, 2, 4, 100, 64, 10, 1e-2, 1.0, 1));
        assertTrue(e.getMessage().contains("samples (100)"), e.getMessage());
    }
}
