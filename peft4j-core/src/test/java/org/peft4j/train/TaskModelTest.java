package org.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.LoadedAdapter;
import org.peft4j.data.Batch;
import org.peft4j.data.Dataset;
import org.peft4j.data.TaskType;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.Pooling;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.tensor.Tensor;

/** The task model's outputs, losses, trainable set and head files on the fixture models. */
class TaskModelTest {
    private static final String LORA = "lora[r=4,lora_alpha=8,target_modules=query|value]";

    @Test
    void classificationOutputsProbabilitiesAndTrainsAdapterAndHeadOnly() throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, LORA, 0.1, 7);
            Dataset d = ToyTask.classification("toy", 6, 1);
            Batch b = new ToyTask.IdSource(6, true).batch(d, d.examples());
            Tensor p = m.predict(b);
            assertArrayEquals(new int[] {6, 2}, p.shape());
            for (int r = 0; r < 6; r++) assertEquals(1.0, p.get(r, 0) + p.get(r, 1), 1e-6);
            assertTrue(Double.isFinite(m.loss(b, new SplittableRandom(1)).item()));
            Map<String, Tensor> trainable = m.trainableParameters();
            assertTrue(trainable.containsKey("head.classifier.weight"));
            assertTrue(trainable.keySet().stream().filter(n -> !n.startsWith("head.")).allMatch(n -> n.contains("lora_")), trainable.keySet()::toString);
            // 2 layers × (query, value) × (A [4,32] + B [32,4]) + head 2×32 + 2
            assertEquals(2 * 2 * (4 * 32 + 32 * 4) + 2 * 32 + 2, m.trainableParameterCount());
            assertTrue(m.totalParameterCount() > m.trainableParameterCount());
        }
    }

    @Test
    void headOnlyModelFreezesTheWholeBase() throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, null, 0.0, 7);
            assertEquals(List.of("head.classifier.weight", "head.classifier.bias"), List.copyOf(m.trainableParameters().keySet()));
        }
    }

    /**
     * Probabilities of the same model may differ in the last bit between a cold and a warmed-up JVM: the
     * Vector API's lane sums and exponentials round differently in the interpreter and in C2.
     */
    private static final float SAME_MODEL_ULPS = 4 * Math.ulp(1f);

    /** Every method saves and restores, also one that stores its tensors its own way (a sparse pattern). */
    @ParameterizedTest
    @ValueSource(strings = {LORA, "sparse_bn[base=seq_bn,reduction_factor=4,density=0.5]"})
    void savedAdapterAndHeadLoadBackToTheSamePredictions(String method, @TempDir Path tmp) throws IOException {
        Dataset d = ToyTask.classification("toy", 5, 2);
        Batch b = new ToyTask.IdSource(5, true).batch(d, d.examples());
        Path dir = tmp.resolve("adapter");
        float[] expected;
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, method, 0.1, 7);
            SplittableRandom r = new SplittableRandom(3);
            for (Tensor t : m.trainableParameters().values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, r.nextDouble(-0.3, 0.3));
            expected = m.predict(b).toFloatArray();
            m.save(dir, null);
        }
        assertTrue(Files.isRegularFile(dir.resolve(TaskModel.HEAD_CONFIG)));
        assertTrue(Files.isRegularFile(dir.resolve(TaskModel.HEAD_WEIGHTS)));
        try (PretrainedModel pm = ToyTask.bert()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            LoadedAdapter loaded = AdapterFiles.load(model, dir, null);
            TaskModel m = TaskModel.load(model, loaded.name(), dir);
            assertEquals(ToyTask.LABELS, m.labels());
            assertEquals(Pooling.MEAN, m.head().pooling());
            assertArrayEquals(expected, m.predict(b).toFloatArray(), SAME_MODEL_ULPS);
        }
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel fresh = ToyTask.classifier(pm, method, 0.1, 99);
            fresh.restore(dir);
            assertArrayEquals(expected, fresh.predict(b).toFloatArray(), SAME_MODEL_ULPS);
        }
    }

    @Test
    void restoreRefusesAFolderOfAnotherAdapter(@TempDir Path tmp) throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            ToyTask.classifier(pm, "lora[r=2,target_modules=query]", 0, 1).save(tmp.resolve("a"), null);
        }
        try (PretrainedModel pm = ToyTask.bert()) {
            TaskModel m = ToyTask.classifier(pm, LORA, 0, 1);
            IOException e = assertThrows(IOException.class, () -> m.restore(tmp.resolve("a")));
            assertTrue(e.getMessage().contains("lacks"), e.getMessage());
        }
    }

    @Test
    void regressionGivesOneValuePerExampleAndMseLoss() throws IOException {
        try (PretrainedModel pm = ToyTask.bert()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            TaskModel m = TaskModel.create(model, null, TaskType.REGRESSION, List.of(), Pooling.CLS, 0, 3);
            Dataset d = ToyTask.regression("reg", 4, 5);
            Batch b = new ToyTask.IdSource(4, true).batch(d, d.examples());
            double[] values = m.predict(b).toDoubleArray();
            assertEquals(4, values.length);
            double[] gold = b.labels().toDoubleArray();
            m.trainMode(false);
            assertEquals(Metrics.mse(values, gold), m.loss(b, null).item(), 1e-6);
            assertEquals(Metrics.mse(values, gold), Evaluator.evaluate(m, d, new ToyTask.IdSource(3, true)).get(Metrics.MSE), 1e-6);
        }
    }

    @Test
    void causalLmPerplexityWeighsBatchesByTheirTokens() throws IOException {
        try (PretrainedModel pm = ToyTask.gpt2()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            TaskModel m = TaskModel.create(model, null, TaskType.CAUSAL_LM, List.of(), null, 0, 0);
            Dataset d = ToyTask.causal("lm", 7, 3);
            Batch all = new ToyTask.IdSource(7, false).batch(d, d.examples());
            long tokens = 0;
            for (var e : d.examples()) tokens += e.text().split(" ").length - 1;
            assertEquals(tokens, m.targetCount(all));
            double loss = CrossEntropy.causalLm(m.output(all, null), all.labels()).item();
            Map<String, Double> small = Evaluator.evaluate(m, d, new ToyTask.IdSource(2, false));
            assertEquals(Math.exp(loss), small.get(Metrics.PERPLEXITY), 1e-4 * Math.exp(loss));
            assertEquals(loss, small.get(Metrics.LOSS), 1e-5);
            assertArrayEquals(new int[] {7, pm.config().vocabSize()}, m.predict(all).shape());
        }
    }

    @Test
    void taskAndArchitectureMustFit() throws IOException {
        try (PretrainedModel bert = ToyTask.bert(); PretrainedModel gpt2 = ToyTask.gpt2()) {
            PeftModel encoder = new PeftModel(bert.model(), bert.config());
            PeftModel decoder = new PeftModel(gpt2.model(), gpt2.config());
            assertThrows(IllegalArgumentException.class, () -> TaskModel.create(encoder, null, TaskType.CAUSAL_LM, List.of(), null, 0, 0));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> TaskModel.create(decoder, null, TaskType.CLASSIFICATION, ToyTask.LABELS, Pooling.LAST, 0, 0));
            assertTrue(e.getMessage().contains("decoder"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> TaskModel.create(encoder, null, TaskType.CLASSIFICATION, List.of("only"), Pooling.MEAN, 0, 0));
        }
    }
}
