package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.adapters.integration.Harness.noGrad;
import static org.peft4j.adapters.integration.Harness.rows;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.peft4j.adapters.PeftModel;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;

/**
 * Composition on MiniLM with real sentences: {@code Stack} of two seq_bn adapters (a stacked adapter whose
 * up projection is zero passes its input on, so the stack reduces to the other one), {@code BatchSplit}
 * (each row range equals its adapter run alone), and PEFT's per-row adapter names with LoRA (each row of a
 * mixed batch equals its adapter run alone; "__base__" rows equal the base model).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CompositionOnMiniLmTest {
    private PretrainedModel pm;
    private PeftModel model;
    private Encoding batch;
    private Tensor baseOutput;

    @BeforeAll
    void load() throws Exception {
        pm = Harness.miniLm();
        model = new PeftModel(pm.model(), pm.config());
        batch = Harness.sentences();
        Harness.warmUp(model, batch);
        baseOutput = noGrad(() -> Harness.encode(model, batch));
    }

    @AfterAll
    void close() { pm.close(); }

    @AfterEach
    void reset() { Harness.reset(model); }

    private Tensor run(String composition) {
        model.setActive(composition);
        return noGrad(() -> Harness.encode(model, batch));
    }

    private void randomise(String name, long seed) {
        Random r = new Random(seed);
        for (Tensor t : model.adapterParameters(name).values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) + 0.05 * r.nextGaussian());
    }

    /** Zeroes the adapter's up projections (weights and biases): its bottleneck then adds nothing. */
    private void zeroUp(String name) {
        for (Map.Entry<String, Tensor> e : model.adapterParameters(name).entrySet()) {
            if (e.getKey().contains(".adapter_up.")) for (long i = 0; i < e.getValue().numel(); i++) e.getValue().setFlat(i, 0);
        }
    }

    @Test
    void stackFeedsOneAdapterIntoTheNext() {
        model.addAdapter("a", "seq_bn", 1);
        model.addAdapter("b", "seq_bn[non_linearity=gelu]", 2);
        randomise("a", 1);
        randomise("b", 2);
        Tensor a = run("a"), b = run("b"), ab = run("Stack(a, b)"), ba = run("Stack(b, a)");
        assertTrue(Harness.maxAbsDiff(ab, a) > 1e-3 && Harness.maxAbsDiff(ab, b) > 1e-3, "the stack is neither adapter alone");
        assertTrue(Harness.maxAbsDiff(ab, ba) > 1e-4, "the order of a stack matters");

        model.addAdapter("zero", "seq_bn", 3);
        zeroUp("zero");
        Harness.assertSame(baseOutput, run("zero"), "an adapter with a zero up projection");
        Harness.assertSame(a, run("Stack(a, zero)"), "Stack(a, zero) is a");
        Harness.assertSame(b, run("Stack(zero, b)"), "Stack(zero, b) is b");
        Harness.assertSame(ab, run("Stack(a, zero, b)"), "a zero adapter inside a stack");
    }

    @Test
    void batchSplitRunsEachRowRangeThroughItsAdapter() {
        // same placement (AdapterHub runs the first adapter's pre-forward and the last one's post-forward on the whole batch)
        model.addAdapter("a", "seq_bn", 1);
        model.addAdapter("b", "seq_bn[reduction_factor=8,non_linearity=gelu]", 2);
        randomise("a", 1);
        Tensor a = run("a"), b = run("b"), split = run("BatchSplit(a, b; 1, 3)");
        Harness.assertSame(rows(a, 0, 1), rows(split, 0, 1), "row 0 through a");
        Harness.assertSame(rows(b, 1, 3), rows(split, 1, 3), "rows 1..3 through b");
        Tensor other = run("BatchSplit(b, a; 2, 2)");
        Harness.assertSame(rows(b, 0, 2), rows(other, 0, 2), "rows 0..1 through b");
        Harness.assertSame(rows(a, 2, 2), rows(other, 2, 2), "rows 2..3 through a");
    }

    @Test
    void batchSplitAndRowNamesGiveEachRowOnlyItsOwnPrefix() {
        model.addAdapter("p", "prefix_tuning[prefix_length=5]", 1);
        model.addAdapter("q", "prefix_tuning_flat[prefix_length=3]", 2);
        Tensor p = run("p"), q = run("q");
        assertTrue(Harness.maxAbsDiff(p, q) > 1e-3, "the two prefixes differ");
        Tensor split = run("BatchSplit(p, q; 3, 1)");
        Harness.assertSame(rows(p, 0, 3), rows(split, 0, 3), "rows 0..2 through p");
        Harness.assertSame(rows(q, 3, 1), rows(split, 3, 1), "row 3 through q");

        model.deactivate();
        List<String> names = List.of("q", "__base__", "p", "q");
        model.context().setRowAdapters(names);
        Tensor mixed = noGrad(() -> Harness.encode(model, batch));
        for (int i = 0; i < names.size(); i++) {
            Tensor expected = switch (names.get(i)) {
                case "p" -> p;
                case "q" -> q;
                default -> baseOutput;
            };
            Harness.assertSame(rows(expected, i, 1), rows(mixed, i, 1), "row " + i + " through " + names.get(i));
        }

        // PEFT's prefixes renumber every row's positions, so a row without one cannot share the batch
        model.addAdapter("r", "prefix[num_virtual_tokens=4]", 3);
        model.context().setRowAdapters(List.of("r", "__base__", "r", "r"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> noGrad(() -> Harness.encode(model, batch)));
        assertTrue(e.getMessage().contains("cannot serve a mixed batch"), e.getMessage());
    }

    @Test
    void perRowLoraAdaptersInOneBatch() {
        model.addAdapter("x", "lora[r=4,alpha=8,target_modules=query|value|dense]", 1);
        model.addAdapter("y", "lora[r=2,alpha=4,target_modules=query|key]", 2);
        randomise("x", 1);
        randomise("y", 2);
        Tensor x = run("x"), y = run("y");
        model.deactivate();
        List<String> names = List.of("y", "x", "__base__", "x");
        model.context().setRowAdapters(names);
        Tensor mixed = noGrad(() -> Harness.encode(model, batch));
        for (int i = 0; i < names.size(); i++) {
            Tensor expected = switch (names.get(i)) {
                case "x" -> x;
                case "y" -> y;
                default -> baseOutput;
            };
            Harness.assertSame(rows(expected, i, 1), rows(mixed, i, 1), "row " + i + " through " + names.get(i));
        }
        assertTrue(Harness.maxAbsDiff(rows(x, 1, 1), rows(baseOutput, 1, 1)) > 1e-4, "x should change its rows");

        // training on a mixed batch reaches both adapters, and only them
        model.train("x", "y");
        ClassificationHead head = Harness.head(model, 4);
        Harness.classificationLoss(model, head, batch).backward();
        for (String n : List.of("x", "y")) {
            for (Map.Entry<String, Tensor> e : model.adapterParameters(n).entrySet()) assertNotNull(e.getValue().grad(), e.getKey());
        }
    }
}
