package org.peft4j.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void constant() {
        assertEquals(1.0, LrSchedule.constant().multiplier(0));
        assertEquals(1.0, LrSchedule.constant().multiplier(1_000_000));
    }

    @Test
    void constantWithWarmup() {
        LrSchedule s = LrSchedule.constantWithWarmup(4);
        assertEquals(0.0, s.multiplier(0));
        assertEquals(0.25, s.multiplier(1));
        assertEquals(0.75, s.multiplier(3));
        assertEquals(1.0, s.multiplier(4));
        assertEquals(1.0, s.multiplier(100));
    }

    /** HF get_linear_schedule_with_warmup(warmup 10, total 100). */
    @Test
    void linearWarmupThenLinearDecay() {
        LrSchedule s = LrSchedule.linearWithWarmup(10, 100);
        assertEquals(0.0, s.multiplier(0));
        assertEquals(0.5, s.multiplier(5));
        assertEquals(1.0, s.multiplier(10));
        assertEquals(0.5, s.multiplier(55));
        assertEquals(0.1, s.multiplier(91), 1e-15);
        assertEquals(0.0, s.multiplier(100));
        assertEquals(0.0, s.multiplier(150));
        assertEquals(1.0, LrSchedule.linearWithWarmup(0, 4).multiplier(0), "no warmup starts at full lr");
        assertEquals(0.25, LrSchedule.linearWithWarmup(0, 4).multiplier(3));
    }

    /** HF get_cosine_schedule_with_warmup: 0.5·(1 + cos(π·progress)) after warmup. */
    @Test
    void cosineWithWarmup() {
        LrSchedule s = LrSchedule.cosineWithWarmup(10, 100);
        assertEquals(0.3, s.multiplier(3), 1e-15);
        assertEquals(1.0, s.multiplier(10));
        assertEquals(0.5, s.multiplier(55), 1e-15);
        assertEquals(0.0, s.multiplier(100), 1e-15);
        LrSchedule noWarmup = LrSchedule.cosineWithWarmup(0, 4);
        assertEquals(0.5 * (1 + Math.sqrt(0.5)), noWarmup.multiplier(1), 1e-15); // 0.8535533905932737
        assertEquals(0.5, noWarmup.multiplier(2), 1e-15);
        assertEquals(0.14644660940672627, noWarmup.multiplier(3), 1e-15);
        // Past the end the cosine rises again for half-cycles; with 1 cycle it returns to 1 at the end.
        assertEquals(1.0, LrSchedule.cosineWithWarmup(0, 4, 1.0).multiplier(4), 1e-15);
    }

    @Test
    void rejectsNegativeStepCounts() {
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.linearWithWarmup(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosineWithWarmup(0, -10));
    }
}
