package org.peft4j.optim;

/**
 * A learning-rate multiplier per optimizer step, as Hugging Face's {@code LambdaLR} schedules: the
 * step that follows {@code n} completed steps uses {@code base lr × multiplier(n)}. With warmup the
 * first step therefore uses multiplier 0, exactly as {@code get_linear_schedule_with_warmup} does.
 */
@FunctionalInterface
public interface LrSchedule {
    /** The multiplier for the step taken after {@code step} completed steps (0-based). */
    double multiplier(long step);

    /** Always 1. */
    static LrSchedule constant() { return step -> 1.0; }

    /** Linear warmup from 0 to 1 over {@code warmupSteps}, then 1 (HF get_constant_schedule_with_warmup). */
    static LrSchedule constantWithWarmup(long warmupSteps) {
        requireNonNegative("warmupSteps", warmupSteps);
        return step -> step < warmupSteps ? warmup(step, warmupSteps) : 1.0;
    }

    /**
     * Linear warmup from 0 to 1 over {@code warmupSteps}, then linear decay to 0 at {@code totalSteps}
     * (HF get_linear_schedule_with_warmup); 0 after that.
     */
    static LrSchedule linearWithWarmup(long warmupSteps, long totalSteps) {
        requireNonNegative("warmupSteps", warmupSteps);
        requireNonNegative("totalSteps", totalSteps);
        return step -> step < warmupSteps
                ? warmup(step, warmupSteps)
                : Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    }

    /** Linear warmup, then half a cosine period from 1 down to 0 at {@code totalSteps} (HF get_cosine_schedule_with_warmup). */
    static LrSchedule cosineWithWarmup(long warmupSteps, long totalSteps) {
        return cosineWithWarmup(warmupSteps, totalSteps, 0.5);
    }

    /**
     * Linear warmup, then {@code 0.5 (1 + cos(2π · numCycles · progress))} where progress runs from 0
     * after warmup to 1 at {@code totalSteps}; clamped at 0. {@code numCycles = 0.5} is a single decay to 0.
     */
    static LrSchedule cosineWithWarmup(long warmupSteps, long totalSteps, double numCycles) {
        requireNonNegative("warmupSteps", warmupSteps);
        requireNonNegative("totalSteps", totalSteps);
        return step -> {
            if (step < warmupSteps) return warmup(step, warmupSteps);
            double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
            return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
        };
    }

    private static double warmup(long step, long warmupSteps) {
        return (double) step / Math.max(1, warmupSteps);
    }

    private static void requireNonNegative(String what, long value) {
        if (value < 0) throw new IllegalArgumentException(what + " must be >= 0, got " + value);
    }
}
