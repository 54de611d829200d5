package org.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.fusion.FusionConfig;
import org.peft4j.adapters.fusion.FusionLayer;
import org.peft4j.adapters.fusion.FusionMethod;
import org.peft4j.data.Batch;
import org.peft4j.data.Dataset;
import org.peft4j.data.Splits;
import org.peft4j.data.TaskType;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.Pooling;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * The training loop on the tiny BERT/GPT-2 fixtures: it learns, accumulation equals one big batch,
 * early stopping stops, and a run killed after a checkpoint and resumed ends exactly where an
 * uninterrupted run does.
 */
class TrainerTest {
    /**
     * No LoRA dropout: LoRA draws its masks from a generator of its own, made at install, which a
     * resumed process cannot put back where it was; the head's dropout (0.1) uses the trainer's per-step
     * generator, so seeded dropout is still exercised.
     */
    private static final String LORA = "lora[r=4,lora_alpha=8,target_modules=query|value]";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final Splits TOY = ToyTask.splits(ToyTask.classification("toy-train", 24, 1),
            ToyTask.classification("toy-dev", 12, 2), ToyTask.classification("toy-test", 12, 3));

    /** 2 epochs of 6 batches of 4, accumulated in pairs: 3 optimizer steps per epoch. */
    private static final TrainingConfig SMALL = TrainingConfig.defaults().withEpochs(2).withBatchSize(4).withGradAccumulation(2)
            .withLr(5e-3).withLogEvery(1).withSeed(11);

    private static final class Killed extends RuntimeException {
        Killed() { super("simulated kill"); }
    }

    private static TrainingResult train(Path out, TrainingConfig config, Splits splits, boolean resume, ProgressListener l)
            throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, LORA, 0.1, config.seed());
            return new Trainer(config, new ToyTask.IdSource(config.batchSize(), true), out).listener(l).fit(m, splits, resume);
        }
    }

    @Test
    void learnsASeparableTaskAndWritesItsReport(@TempDir Path tmp) throws IOException {
        Splits splits = ToyTask.splits(ToyTask.classification("train", 48, 4), ToyTask.classification("dev", 16, 5),
                ToyTask.classification("test", 16, 6));
        TrainingConfig config = TrainingConfig.defaults().withEpochs(4).withBatchSize(8).withLr(3e-2).withLogEvery(1);
        List<ProgressListener.Step> steps = new ArrayList<>();
        TrainingResult r = train(tmp, config, splits, false, new ProgressListener() {
            @Override
            public void stepDone(Step s) { steps.add(s); }
        });
        assertEquals(24, steps.size());
        assertEquals(24, steps.get(23).totalSteps());
        assertTrue(steps.get(23).tokensPerSecond() > 0);
        double first = steps.get(0).loss(), last = (steps.get(22).loss() + steps.get(23).loss()) / 2;
        assertTrue(last < first * 0.5, "loss " + first + " → " + last);
        assertTrue(r.testMetrics().get(Metrics.ACCURACY) >= 0.9, r.testMetrics().toString());

        JsonNode metrics = JSON.readTree(tmp.resolve(Trainer.METRICS_JSON).toFile());
        for (String key : List.of("accuracy", "macro_f1", "trainable_parameters", "total_parameters", "wall_seconds", "peak_rss_bytes")) {
            assertTrue(metrics.has(key), key + " missing from " + metrics);
        }
        assertEquals(r.trainableParameters(), metrics.get("trainable_parameters").asLong());
        assertTrue(metrics.get("peak_rss_bytes").asLong() > 0);
        Path adapter = tmp.resolve(Trainer.ADAPTER_DIR);
        for (String f : List.of("adapter_config.json", "adapter.safetensors", TaskModel.HEAD_CONFIG, TaskModel.HEAD_WEIGHTS, Trainer.DEV_METRICS)) {
            assertTrue(Files.isRegularFile(adapter.resolve(f)), f);
        }
        List<JsonNode> log = readLog(tmp);
        assertEquals(24, log.stream().filter(n -> n.get("type").asText().equals("train")).count());
        assertEquals(4, log.stream().filter(n -> n.path("split").asText().equals("dev")).count());
        assertEquals(1, log.stream().filter(n -> n.path("split").asText().equals("test")).count());
    }

    @Test
    void accumulatedMicroBatchesGiveTheGradientOfOneBatch() throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, "lora[r=4,target_modules=query|value]", 0.0, 1);
            SplittableRandom r = new SplittableRandom(5);
            for (Tensor t : m.trainableParameters().values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, r.nextDouble(-0.2, 0.2));
            m.trainMode(true);
            Dataset d = ToyTask.classification("d", 4, 9);
            ToyTask.IdSource src = new ToyTask.IdSource(4, true);
            var ex = d.examples();
            Map<String, float[]> whole = gradients(m, List.of(src.batch(d, ex)));
            Map<String, float[]> halves = gradients(m, List.of(src.batch(d, ex.subList(0, 2)), src.batch(d, ex.subList(2, 4))));
            Map<String, float[]> uneven = gradients(m, List.of(src.batch(d, ex.subList(0, 3)), src.batch(d, ex.subList(3, 4))));
            for (String name : whole.keySet()) {
                assertClose(whole.get(name), halves.get(name), name + " (2+2)");
                assertClose(whole.get(name), uneven.get(name), name + " (3+1)");
            }
        }
    }

    @Test
    void fusionTrainingAddsTheValueRegularisation() throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = fusionClassifier(pm, FusionConfig.dynamic(AB));
            SplittableRandom r = new SplittableRandom(3);
            for (Tensor t : m.trainableParameters().values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) + r.nextDouble(-0.1, 0.1));
            m.trainMode(true);
            Dataset d = ToyTask.classification("d", 4, 9);
            Batch batch = new ToyTask.IdSource(4, true).batch(d, d.examples());
            Map<String, float[]> trained = gradients(m, List.of(batch));
            m.loss(batch, Trainer.dropoutRng(0, 0, 0)).backward();
            Map<String, float[]> taskOnly = gradients(m);
            m.regularization().backward();
            Map<String, float[]> regOnly = gradients(m);
            int valueWeights = 0;
            for (String name : trained.keySet()) {
                float[] sum = taskOnly.get(name).clone();
                for (int i = 0; i < sum.length; i++) sum[i] += regOnly.get(name)[i];
                assertClose(sum, trained.get(name), name);
                if (name.endsWith("value.weight")) {
                    valueWeights++;
                    assertTrue(Arrays.stream(toDoubles(regOnly.get(name))).anyMatch(g -> g != 0), name + ": no regularisation gradient");
                }
            }
            assertEquals(pm.config().numLayers(), valueWeights, "a value projection per fusion layer (one per transformer layer)");
        }
    }

    @Test
    void fusionTemperatureFollowsTheTrainingForwardsAcrossAResume(@TempDir Path tmp) throws IOException {
        TrainingConfig config = SMALL.withEpochs(1);
        FusionConfig fusion = (FusionConfig) MethodRegistry.parse("fuse[temperature=true]").get(0);
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = fusionClassifier(pm, fusion);
            new Trainer(config, new ToyTask.IdSource(config.batchSize(), true), tmp).fit(m, TOY, false);
            assertStepsOfEveryLayer(m, 6); // 24 examples in batches of 4
        }
        JsonNode state = JSON.readTree(tmp.resolve(Trainer.CHECKPOINT_DIR).resolve(Trainer.STATE_FILE).toFile());
        assertEquals(6, state.get("forwards").asLong());
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = fusionClassifier(pm, fusion);
            new Trainer(config, new ToyTask.IdSource(config.batchSize(), true), tmp).fit(m, TOY, true);
            assertStepsOfEveryLayer(m, 6);
        }
    }

    private static final List<String> AB = List.of("a", "b");

    /** A classifier training an AdapterFusion over two fresh bottleneck adapters a and b. */
    private static TaskModel fusionClassifier(PretrainedModel pm, FusionConfig fusion) {
        PeftModel peft = new PeftModel(pm.model(), pm.config());
        peft.addAdapter("a", "seq_bn[reduction_factor=4]", 1);
        peft.addAdapter("b", "seq_bn[reduction_factor=4]", 2);
        String entry = FusionMethod.addFusion(peft, AB, fusion.withAdapters(AB), 3).name();
        return TaskModel.create(peft, entry, TaskType.CLASSIFICATION, ToyTask.LABELS, Pooling.MEAN, 0.0, 1);
    }

    private static void assertStepsOfEveryLayer(TaskModel m, long steps) {
        Map<String, FusionLayer> layers = FusionMethod.layers(m.peft(), AB);
        assertFalse(layers.isEmpty());
        layers.forEach((path, f) -> assertEquals(steps, f.steps(), path));
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static Map<String, float[]> gradients(TaskModel m, List<Batch> micro) {
        Trainer.accumulate(m, micro, 0, 0, new Workspace());
        return gradients(m);
    }

    /** The trainable tensors' gradients (zeros where none arrived), which it then zeroes. */
    private static Map<String, float[]> gradients(TaskModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.trainableParameters().forEach((n, t) -> {
            out.put(n, t.grad() == null ? new float[(int) t.numel()] : t.grad().toFloatArray());
            t.zeroGrad();
        });
        return out;
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        double max = 0, diff = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(max > 0, what + " has a zero gradient");
        assertTrue(diff <= 1e-5 * max, what + ": max diff " + diff + " vs max " + max);
    }

    @Test
    void stopsEarlyWhenTheDevMetricStopsImproving(@TempDir Path tmp) throws IOException {
        // a learning rate too small to move any prediction: the dev accuracy never improves after epoch 1
        TrainingConfig config = SMALL.withEpochs(6).withLr(1e-12).withEarlyStoppingPatience(2);
        TrainingResult r = train(tmp, config, TOY, false, ProgressListener.NONE);
        assertTrue(r.stoppedEarly());
        assertEquals(3, r.epochsCompleted());
        assertEquals(1, r.bestEpoch());
        assertEquals(9, r.steps());
    }

    /** The uninterrupted run the resumed ones are compared with. */
    @TempDir
    static Path straightDir;
    private static TrainingResult straight;

    @BeforeAll
    static void trainStraight() throws IOException {
        straight = train(straightDir, SMALL, TOY, false, ProgressListener.NONE);
    }

    @Test
    void resumingAfterAKillAtAnEpochEndReachesTheSameResult(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("killed");
        assertThrows(Killed.class, () -> train(out, SMALL, TOY, false, new ProgressListener() {
            @Override
            public void checkpointed(Path dir, long step) {
                if (step == 3) throw new Killed();
            }
        }));
        assertFalse(Files.exists(out.resolve(Trainer.METRICS_JSON)));
        List<Long> resumedSteps = new ArrayList<>();
        TrainingResult resumed = train(out, SMALL, TOY, true, new ProgressListener() {
            @Override
            public void started(Plan plan) { resumedSteps.add(plan.startStep()); }
        });
        assertEquals(List.of(3L), resumedSteps);
        assertSameRun(out, resumed);
    }

    @Test
    void resumingAfterAKillMidEpochReachesTheSameResult(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("killed");
        TrainingConfig everyTwo = SMALL.withCheckpointEvery(2);
        // checkpoints after steps 2 (mid epoch 1), 3 (epoch end) and 4 (mid epoch 2); killed during step 5
        assertThrows(Killed.class, () -> train(out, everyTwo, TOY, false, new ProgressListener() {
            @Override
            public void stepDone(Step s) {
                if (s.step() == 5) throw new Killed();
            }
        }));
        // a checkpoint write the kill interrupted leaves a staging folder behind
        Files.createDirectories(out.resolve(".checkpoint.tmp999/model"));
        TrainingResult resumed = train(out, everyTwo, TOY, true, ProgressListener.NONE);
        assertFalse(Files.exists(out.resolve(".checkpoint.tmp999")));
        assertSameRun(out, resumed);
    }

    @Test
    void resumeRefusesACheckpointMadeWithOtherSettings(@TempDir Path tmp) throws IOException {
        assertThrows(Killed.class, () -> train(tmp, SMALL, TOY, false, new ProgressListener() {
            @Override
            public void checkpointed(Path dir, long step) { throw new Killed(); }
        }));
        IOException e = assertThrows(IOException.class, () -> train(tmp, SMALL.withLr(1e-3), TOY, true, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("lr: 0.005 → 0.001"), e.getMessage());
    }

    /**
     * The resumed run in {@code b} against the uninterrupted one: the same steps, evaluations, kept epoch
     * and metrics, and the same tensors. Same up to float rounding, not bit for bit: the compute kernels'
     * vector reductions (reduceLanes) sum in another order once the JIT compiles them, so even two
     * uninterrupted runs in one JVM differ in the last bits; the checkpoint itself restores exactly.
     */
    private static void assertSameRun(Path b, TrainingResult rb) throws IOException {
        Path a = straightDir;
        TrainingResult ra = straight;
        for (String f : List.of("adapter.safetensors", TaskModel.HEAD_WEIGHTS)) {
            assertSameTensors(a.resolve(Trainer.ADAPTER_DIR).resolve(f), b.resolve(Trainer.ADAPTER_DIR).resolve(f));
        }
        assertSameTensors(a.resolve("checkpoint/optimizer.safetensors"), b.resolve("checkpoint/optimizer.safetensors"));
        assertSameMetrics(ra.testMetrics(), rb.testMetrics());
        assertSameMetrics(ra.devMetrics(), rb.devMetrics());
        assertEquals(ra.bestEpoch(), rb.bestEpoch());
        assertEquals(ra.steps(), rb.steps());
        List<JsonNode> la = readLog(a), lb = readLog(b);
        assertEquals(la.size(), lb.size());
        for (int i = 0; i < la.size(); i++) {
            JsonNode x = la.get(i), y = lb.get(i);
            assertEquals(names(x), names(y), "log line " + i);
            for (String k : names(x)) {
                if (k.equals("elapsed_seconds")) continue;
                if (x.get(k).isFloatingPointNumber()) assertEquals(x.get(k).asDouble(), y.get(k).asDouble(), 1e-5 * Math.abs(x.get(k).asDouble()) + 1e-9, "log line " + i + " " + k);
                else assertEquals(x.get(k), y.get(k), "log line " + i + " " + k);
            }
        }
    }

    private static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    private static void assertSameMetrics(Map<String, Double> a, Map<String, Double> b) {
        assertEquals(a.keySet(), b.keySet());
        assertEquals(a.get(Metrics.ACCURACY), b.get(Metrics.ACCURACY));
        assertEquals(a.get(Metrics.MACRO_F1), b.get(Metrics.MACRO_F1));
        a.forEach((k, v) -> assertEquals(v, b.get(k), 1e-5 * Math.abs(v), k));
    }

    private static void assertSameTensors(Path a, Path b) throws IOException {
        try (SafetensorsCheckpoint x = SafetensorsCheckpoint.open(a); SafetensorsCheckpoint y = SafetensorsCheckpoint.open(b)) {
            assertEquals(x.tensors().keySet(), y.tensors().keySet(), a.getFileName().toString());
            for (String k : x.tensors().keySet()) {
                double[] u = x.tensors().get(k).toDoubleArray(), v = y.tensors().get(k).toDoubleArray();
                assertEquals(u.length, v.length, k);
                double max = 0, diff = 0;
                for (int i = 0; i < u.length; i++) {
                    max = Math.max(max, Math.abs(u[i]));
                    diff = Math.max(diff, Math.abs(u[i] - v[i]));
                }
                assertTrue(diff <= 1e-4 * max, a.getFileName() + " " + k + ": max diff " + diff + " of " + max);
            }
        }
    }

    private static List<JsonNode> readLog(Path dir) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve(Trainer.METRICS_LOG))) out.add(JSON.readTree(line));
        return out;
    }

    @Test
    void regressionTrainsItsHead(@TempDir Path tmp) throws IOException {
        Splits splits = ToyTask.splits(ToyTask.regression("train", 32, 1), ToyTask.regression("dev", 12, 2), ToyTask.regression("test", 12, 3));
        TrainingConfig config = TrainingConfig.defaults().withEpochs(4).withBatchSize(8).withLr(2e-2);
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = TaskModel.create(new PeftModel(pm.model(), pm.config()), null, TaskType.REGRESSION, List.of(),
                    org.peft4j.models.heads.Pooling.MEAN, 0.0, 1);
            double before = Evaluator.evaluate(m, splits.test(), new ToyTask.IdSource(8, true)).get(Metrics.MSE);
            TrainingResult r = new Trainer(config, new ToyTask.IdSource(8, true), tmp).fit(m, splits, false);
            assertEquals(Metrics.MSE, r.metric());
            assertTrue(r.testMetrics().get(Metrics.MSE) < before * 0.5, before + " → " + r.testMetrics());
        }
    }

    @Test
    void causalLmFineTuningLowersPerplexity(@TempDir Path tmp) throws IOException {
        Splits splits = ToyTask.splits(ToyTask.causal("train", 48, 1), ToyTask.causal("dev", 8, 2), ToyTask.causal("test", 8, 3));
        TrainingConfig config = TrainingConfig.defaults().withEpochs(6).withBatchSize(8).withLr(5e-2);
        try (PretrainedModel pm = ToyTask.gpt2()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.addAdapter("lm", "lora[r=8,target_modules=c_attn|c_fc]", 1);
            TaskModel m = TaskModel.create(model, "lm", TaskType.CAUSAL_LM, List.of(), null, 0, 1);
            double before = Evaluator.evaluate(m, splits.test(), new ToyTask.IdSource(8, false)).get(Metrics.PERPLEXITY);
            TrainingResult r = new Trainer(config, new ToyTask.IdSource(8, false), tmp).fit(m, splits, false);
            assertEquals(Metrics.PERPLEXITY, r.metric());
            assertTrue(r.testMetrics().get(Metrics.PERPLEXITY) < before * 0.7, before + " → " + r.testMetrics());
        }
    }
}
