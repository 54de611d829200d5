package org.peft4j.train;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a training run produced.
 *
 * @param metric              the selection metric ({@code accuracy}, {@code mse} or {@code perplexity})
 * @param bestDevMetric       its best dev value; NaN when there was no dev evaluation
 * @param bestEpoch           the epoch (1-based) the kept adapter comes from
 * @param devMetrics          every metric of the best dev evaluation (empty without dev evaluation)
 * @param testMetrics         every metric of the kept adapter on the test set (empty without a test set)
 * @param trainableParameters trainable parameter elements (adapter and head)
 * @param totalParameters     all parameter elements (base, adapters, head)
 * @param steps               optimizer steps taken
 * @param epochsCompleted     whole epochs trained
 * @param stoppedEarly        whether early stopping ended the run
 * @param wallSeconds         training and evaluation time, summed over resumed runs
 * @param peakRssBytes        the process's peak resident memory ({@link PeakMemory})
 * @param adapterDir          the kept adapter + head folder
 * @param metricsFile         {@code metrics.json}
 */
public record TrainingResult(
        String metric,
        double bestDevMetric,
        int bestEpoch,
        Map<String, Double> devMetrics,
        Map<String, Double> testMetrics,
        long trainableParameters,
        long totalParameters,
        long steps,
        int epochsCompleted,
        boolean stoppedEarly,
        double wallSeconds,
        long peakRssBytes,
        Path adapterDir,
        Path metricsFile) {

    public TrainingResult {
        devMetrics = Collections.unmodifiableMap(new LinkedHashMap<>(devMetrics));
        testMetrics = Collections.unmodifiableMap(new LinkedHashMap<>(testMetrics));
    }
}
