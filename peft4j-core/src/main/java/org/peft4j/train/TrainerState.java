package org.peft4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a training run stands, as its checkpoint records it ({@code trainer_state.json}). Dropout
 * masks and batch orders are derived from the seed and these counters, so the counters are all the
 * randomness a run needs to continue exactly.
 */
final class TrainerState {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The epoch in progress, 0-based (= epochs completed). */
    int epoch;
    /** Batches of the current epoch already trained on. */
    int batchInEpoch;
    /** Optimizer steps done. */
    long step;
    /** Training forwards (micro-batches) done: the clock of schedules inside adapters. */
    long forwards;
    /** Real tokens trained on. */
    long tokens;
    /** Seconds spent training before this process started (resumed runs). */
    double elapsedSeconds;
    /** The best dev value of the selection metric; NaN before the first evaluation. */
    double bestMetric = Double.NaN;
    int bestEpoch = -1;
    long bestStep = -1;
    /** The best dev evaluation's metrics. */
    Map<String, Double> bestDev = new LinkedHashMap<>();
    /** Dev evaluations in a row that did not improve. */
    int evalsWithoutImprovement;
    boolean stoppedEarly;
    /** Set once the loop has ended (all epochs, the step cap, or early stopping). */
    boolean finished;
    /** Bytes of {@code metrics.jsonl} written when this state was. */
    long logPosition;
    /** Loss sum and step count since the last log line (the line logs their mean). */
    double pendingLossSum;
    int pendingLossSteps;

    ObjectNode toJson(TrainingConfig config) {
        ObjectNode n = JSON.createObjectNode();
        n.put("epoch", epoch);
        n.put("batch_in_epoch", batchInEpoch);
        n.put("step", step);
        n.put("forwards", forwards);
        n.put("tokens", tokens);
        n.put("elapsed_seconds", elapsedSeconds);
        if (!Double.isNaN(bestMetric)) n.put("best_metric", bestMetric);
        n.put("best_epoch", bestEpoch);
        n.put("best_step", bestStep);
        ObjectNode dev = n.putObject("best_dev");
        bestDev.forEach(dev::put);
        n.put("evals_without_improvement", evalsWithoutImprovement);
        n.put("stopped_early", stoppedEarly);
        n.put("finished", finished);
        n.put("log_position", logPosition);
        n.put("pending_loss_sum", pendingLossSum);
        n.put("pending_loss_steps", pendingLossSteps);
        n.set("config", config.toJson());
        return n;
    }

    static TrainerState fromJson(JsonNode n) {
        TrainerState s = new TrainerState();
        s.epoch = n.path("epoch").asInt();
        s.batchInEpoch = n.path("batch_in_epoch").asInt();
        s.step = n.path("step").asLong();
        s.forwards = n.path("forwards").asLong();
        s.tokens = n.path("tokens").asLong();
        s.elapsedSeconds = n.path("elapsed_seconds").asDouble();
        s.bestMetric = n.has("best_metric") ? n.get("best_metric").asDouble() : Double.NaN;
        s.bestEpoch = n.path("best_epoch").asInt(-1);
        s.bestStep = n.path("best_step").asLong(-1);
        n.path("best_dev").fields().forEachRemaining(e -> s.bestDev.put(e.getKey(), e.getValue().asDouble()));
        s.evalsWithoutImprovement = n.path("evals_without_improvement").asInt();
        s.stoppedEarly = n.path("stopped_early").asBoolean();
        s.finished = n.path("finished").asBoolean();
        s.logPosition = n.path("log_position").asLong();
        s.pendingLossSum = n.path("pending_loss_sum").asDouble();
        s.pendingLossSteps = n.path("pending_loss_steps").asInt();
        return s;
    }
}
