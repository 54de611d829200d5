package org.peft4j.train;

import java.nio.file.Path;
import java.util.Map;

/**
 * What a {@link Trainer} reports while it runs, for a progress bar or a log. Every method has an empty
 * default; an exception thrown here ends training (the last checkpoint stays resumable).
 */
public interface ProgressListener {
    /** A listener that ignores everything. */
    ProgressListener NONE = new ProgressListener() {};

    /** Training is about to start (or continue, when {@code plan.startStep() > 0}). */
    default void started(Plan plan) {}

    /** An optimizer step is done. */
    default void stepDone(Step step) {}

    /** A dev or test evaluation is done. */
    default void evaluated(Evaluation evaluation) {}

    /** The resumable checkpoint was written at {@code dir} after {@code step} optimizer steps. */
    default void checkpointed(Path dir, long step) {}

    /**
     * The run's shape.
     *
     * @param totalSteps    optimizer steps the whole run takes (unless it stops early)
     * @param startStep     steps already done (a resumed run), else 0
     * @param epochs        planned epochs
     * @param stepsPerEpoch optimizer steps per epoch
     * @param trainExamples examples trained on (after {@code trainLimit})
     * @param devExamples   dev examples (after {@code evalLimit}); 0 when there is no dev evaluation
     * @param testExamples  test examples (after {@code evalLimit})
     * @param trainable     trainable parameter elements
     * @param total         all parameter elements
     */
    record Plan(long totalSteps, long startStep, int epochs, long stepsPerEpoch, int trainExamples, int devExamples,
                int testExamples, long trainable, long total) {}

    /**
     * One optimizer step.
     *
     * @param step            steps done, 1-based
     * @param totalSteps      steps the run takes
     * @param epoch           the epoch it belongs to, 1-based
     * @param epochs          planned epochs
     * @param loss            the step's mean loss over its micro-batches
     * @param learningRate    the learning rate the step used
     * @param gradNorm        the gradients' global L2 norm before clipping
     * @param tokens          real tokens trained on so far in this process
     * @param tokensPerSecond throughput of this process so far
     * @param etaSeconds      estimated seconds to the last step at that throughput
     */
    record Step(long step, long totalSteps, int epoch, int epochs, double loss, double learningRate, double gradNorm,
                long tokens, double tokensPerSecond, double etaSeconds) {}

    /**
     * An evaluation.
     *
     * @param split    {@code dev} or {@code test}
     * @param epoch    epochs completed when it ran
     * @param step     optimizer steps done when it ran
     * @param metrics  the task's metrics ({@link Evaluator#evaluate}), selection metric first
     * @param improved on dev: whether it is the best so far (its adapter was saved)
     */
    record Evaluation(String split, int epoch, long step, Map<String, Double> metrics, boolean improved) {}
}
