package org.peft4j.cli.report;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One method's outcome in a comparison.
 *
 * @param method              the method specification as given
 * @param run                 its run folder's name
 * @param error               why the run failed; null when it succeeded
 * @param lr                  the learning rate it trained at
 * @param metric              the selection metric ({@code accuracy}, {@code mse}, {@code perplexity})
 * @param test                the kept adapter's test metrics (empty when the run failed or had no test set)
 * @param trainableParameters trainable parameter elements (adapter and head)
 * @param totalParameters     all parameter elements
 * @param wallSeconds         training and evaluation time
 * @param peakRssBytes        the run's peak resident memory
 * @param adapterBytes        the saved adapter and head files' size
 * @param lossCurve           the mean training loss by optimizer step, as (step, loss) pairs
 */
public record MethodResult(String method, String run, String error, double lr, String metric, Map<String, Double> test,
                           long trainableParameters, long totalParameters, double wallSeconds, long peakRssBytes,
                           long adapterBytes, List<double[]> lossCurve) {
    public MethodResult {
        test = new LinkedHashMap<>(test);
        lossCurve = List.copyOf(lossCurve);
    }

    /** A run that failed before producing results. */
    public static MethodResult failed(String method, String run, double lr, String error) {
        return new MethodResult(method, run, error, lr, null, Map.of(), 0, 0, Double.NaN, 0, 0, List.of());
    }

    public boolean succeeded() { return error == null; }

    /** The selection metric's test value; NaN when there is none. */
    public double score() {
        Double v = metric == null ? null : test.get(metric);
        return v == null ? Double.NaN : v;
    }

    /** Trainable parameters as a percentage of all. */
    public double trainablePercent() { return totalParameters == 0 ? 0 : 100.0 * trainableParameters / totalParameters; }
}
