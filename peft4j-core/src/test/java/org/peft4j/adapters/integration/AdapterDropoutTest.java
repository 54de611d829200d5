package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;

/**
 * Adapters that drop out while training draw their masks from the forward's generator, like the
 * model's own dropout: the same generator gives the same output whatever ran before, which is what
 * lets a resumed training run repeat the steps of the killed one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterDropoutTest {
    private PretrainedModel pm;
    private PeftModel model;
    private Encoding batch;

    @BeforeAll
    void load() throws Exception {
        pm = Harness.miniLm();
        model = new PeftModel(pm.model(), pm.config());
        batch = Harness.sentences();
    }

    @AfterAll
    void close() { pm.close(); }

    @AfterEach
    void reset() { Harness.reset(model); }

    @ParameterizedTest
    @ValueSource(strings = {"lora[r=4,lora_dropout=0.5]", "prefix_tuning[dropout=0.5]", "loha[r=4,rank_dropout=0.5]",
            "loha[r=4,module_dropout=0.5]"})
    void masksFollowTheForwardGenerator(String spec) {
        model.addAdapter("a", spec, 1);
        for (Tensor t : model.adapterParameters("a").values()) {
            SplittableRandom r = new SplittableRandom(3);
            for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) + 0.05 * r.nextGaussian());
        }
        model.setActive("a");
        model.trainMode(true);
        Tensor first = forward(7);
        for (int i = 0; i < 3; i++) forward(100 + i); // other steps in between
        Tensor again = forward(7);
        Harness.assertSame(first, again, spec + ": the same forward generator");
        double apart = 0;
        for (int s = 8; s < 12; s++) apart = Math.max(apart, Harness.maxAbsDiff(first, forward(s)));
        assertTrue(apart > 1e-4, spec + ": other generators should draw other masks");
    }

    private Tensor forward(long seed) {
        try (var scope = GradMode.noGrad()) {
            return model.encode(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), new SplittableRandom(seed));
        }
    }
}
