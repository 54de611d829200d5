package org.peft4j.optim;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.tensor.Tensor;

/** Updates parameters in place from their accumulated gradients. */
public interface Optimizer {
    /**
     * Applies one update to every parameter that has a gradient (parameters whose {@code grad()} is null
     * are skipped and their state is left alone), with each group's base lr × the schedule's multiplier
     * for {@link #stepCount()}; then counts the step.
     */
    void step();

    /** Drops every parameter's gradient (sets it to null, as torch's {@code set_to_none}). */
    void zeroGrad();

    /** The parameter groups, in order. */
    List<ParamGroup> groups();

    /** Number of completed {@link #step()} calls (restored by {@link #importState}). */
    long stepCount();

    /** The schedule in use ({@link LrSchedule#constant()} unless set). */
    LrSchedule schedule();

    /** Sets the learning-rate schedule. */
    void setSchedule(LrSchedule schedule);

    /** The learning rate the next {@link #step()} applies to group {@code group}. */
    default double currentLr(int group) {
        return groups().get(group).lr() * schedule().multiplier(stepCount());
    }

    /** A detached copy of the step counter and all per-parameter state. */
    OptimizerState exportState();

    /**
     * Replaces the step counter and per-parameter state by {@code state} (copied), so that training
     * continues exactly as it would have from where the state was exported. Validates every key and
     * shape before changing anything.
     */
    void importState(OptimizerState state);

    /** Every parameter tensor of every group, in order. */
    default List<Tensor> parameters() {
        List<Tensor> all = new ArrayList<>();
        for (ParamGroup g : groups()) all.addAll(g.params().values());
        return all;
    }
}
