package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.adapters.integration.Harness.maxAbsDiff;
import static org.peft4j.adapters.integration.Harness.noGrad;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;

/**
 * Issue 4's "each method can be added to MiniLM, trained a few steps, saved and reloaded with identical
 * outputs", on the built-in all-MiniLM-L6-v2 with a mean-pooled classification head and four real
 * sentences. Two MiniLM instances are loaded once: one trains each method in turn, the other only ever
 * loads the saved folders; after each method both delete it and must give the base output exactly again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EveryMethodOnMiniLmTest {
    /** Every method (and union alias) that applies to an encoder, in its default configuration where that runs on MiniLM. */
    static final List<String> ENCODER_SPECS = List.of("seq_bn", "double_seq_bn", "par_bn", "scaled_par_bn", "compacter", "compacter++",
            "bitfit", "prefix_tuning", "prefix_tuning_flat", "prefix[num_virtual_tokens=8]", "lora", "dora", "ia3", "ia3_adapterhub",
            "loha", "lokr", "sparse_bn", "mam", "unipelt");
    /** Registered methods covered elsewhere: prompt tuning prepends tokens to decoders only; AdapterFusion combines trained adapters. */
    static final Map<String, String> COVERED_ELSEWHERE = Map.of(
            "prompt_tuning", "decoder-only: DecoderMethodsTest trains, saves and reloads it on the Llama and GPT-2 fixtures",
            "fuse", "combines already trained adapters: the fusion tests");
    /** Methods whose default initialisation leaves the model's output unchanged. */
    static final List<String> NO_OP_SPECS = List.of("par_bn", "scaled_par_bn", "bitfit", "lora", "dora", "ia3", "ia3_adapterhub", "loha",
            "lokr");

    private PretrainedModel trainerBase;
    private PretrainedModel loaderBase;
    private PeftModel trainer;
    private PeftModel loader;
    private Encoding batch;
    private Tensor baseOutput;

    @BeforeAll
    void load() throws Exception {
        trainerBase = Harness.miniLm();
        loaderBase = Harness.miniLm();
        trainer = new PeftModel(trainerBase.model(), trainerBase.config());
        loader = new PeftModel(loaderBase.model(), loaderBase.config());
        batch = Harness.sentences();
        Harness.warmUp(trainer, batch);
        Harness.warmUp(loader, batch);
        baseOutput = noGrad(() -> Harness.encode(trainer, batch));
    }

    @AfterEach
    void deleteAdapters() {
        Harness.reset(trainer);
        Harness.reset(loader);
    }

    @AfterAll
    void close() {
        trainerBase.close();
        loaderBase.close();
    }

    static List<String> encoderSpecs() { return ENCODER_SPECS; }

    @Test
    void everyRegisteredMethodIsCovered() {
        Set<String> listed = new HashSet<>();
        for (String spec : ENCODER_SPECS) for (MethodConfig c : MethodRegistry.parse(spec)) listed.add(MethodRegistry.method(c.method()).name());
        Set<String> missing = new TreeSet<>();
        for (AdapterMethod m : MethodRegistry.methods()) {
            if (!listed.contains(m.name()) && !COVERED_ELSEWHERE.containsKey(m.name())) missing.add(m.name());
        }
        assertTrue(missing.isEmpty(), "registered methods without a MiniLM round trip: " + missing);
    }

    @ParameterizedTest
    @MethodSource("encoderSpecs")
    void trainsSavesAndReloads(String spec, @TempDir Path dir) throws Exception {
        trainer.addAdapter("a", spec, 17);
        trainer.setActive("a");
        trainer.train("a");
        ClassificationHead head = Harness.head(trainer, 3);
        Map<String, Tensor> own = trainer.adapterParameters("a");
        Map<String, Tensor> trained = new LinkedHashMap<>(own);
        head.namedParameters().forEach((n, t) -> trained.put("head." + n, t));
        Tensor initial = noGrad(() -> Harness.encode(trainer, batch));

        AdamW opt = new AdamW(List.of(new ParamGroup(trained, 1e-2, 0.01)));
        trainer.trainMode(true);
        for (int step = 0; step < 3; step++) {
            opt.zeroGrad();
            Harness.classificationLoss(trainer, head, batch).backward();
            opt.step();
        }
        trainer.trainMode(false);
        for (Map.Entry<String, Tensor> e : trainer.namedParameters().entrySet()) {
            if (own.containsKey(e.getKey())) continue;
            assertNull(e.getValue().grad(), spec + ": frozen " + e.getKey() + " got a gradient");
        }
        assertTrue(own.values().stream().anyMatch(t -> t.grad() != null), spec + ": no adapter tensor got a gradient");

        Tensor hidden = noGrad(() -> Harness.encode(trainer, batch));
        Tensor logits = noGrad(() -> Harness.logits(head, hidden, batch));
        assertTrue(maxAbsDiff(hidden, initial) > 1e-6, spec + ": training did not change the output");
        assertTrue(maxAbsDiff(hidden, baseOutput) > 1e-6, spec + ": the trained adapter leaves the base output");

        // peft4j's own format, into the other model
        Path own4j = dir.resolve("peft4j");
        AdapterFiles.save(trainer, "a", own4j);
        Harness.saveHead(head, own4j.resolve("head.safetensors"));
        AdapterFiles.load(loader, own4j, "a");
        loader.setActive("a");
        ClassificationHead loadedHead = Harness.loadHead(loader, own4j.resolve("head.safetensors"));
        Tensor reloaded = noGrad(() -> Harness.encode(loader, batch));
        double diff = Harness.assertSame(hidden, reloaded, spec + ": peft4j folder");
        Harness.assertSame(logits, noGrad(() -> Harness.logits(loadedHead, reloaded, batch)), spec + ": head");
        loader.deleteAdapter("a");

        // PEFT's format, for the methods PEFT has
        List<MethodConfig> configs = trainer.adapter("a").configs();
        if (configs.size() == 1 && MethodRegistry.method(configs.get(0).method()) instanceof PeftFormatSupport) {
            Path peft = dir.resolve("peft");
            AdapterFiles.savePeft(trainer, "a", peft);
            AdapterFiles.load(loader, peft, "p");
            loader.setActive("p");
            diff = Math.max(diff, Harness.assertSame(hidden, noGrad(() -> Harness.encode(loader, batch)), spec + ": PEFT folder"));
            loader.deleteAdapter("p");
        }

        trainer.deleteAdapter("a");
        Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(trainer, batch)), spec + ": base output after deleteAdapter");
        Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(loader, batch)), spec + ": base output after deleteAdapter");
        assertEquals(loader.namedParameters().keySet(), trainer.namedParameters().keySet(), spec + ": tensors left behind");
        System.out.printf("%s: %d adapter tensors, reload max abs diff %.1e%n", spec, own.size(), diff);
    }

    @ParameterizedTest
    @MethodSource("noOpSpecs")
    void noOpInitialisationGivesTheBaseOutput(String spec) {
        trainer.addAdapter("n", spec, 23);
        trainer.setActive("n");
        try {
            assertNotNull(trainer.adapter("n"));
            Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(trainer, batch)), spec);
        } finally {
            trainer.deleteAdapter("n");
        }
    }

    static List<String> noOpSpecs() { return NO_OP_SPECS; }

    @ParameterizedTest
    @ValueSource(strings = {"seq_bn", "prefix_tuning_flat", "compacter"})
    void methodsThatStartAwayFromTheBaseChangeTheOutput(String spec) {
        trainer.addAdapter("n", spec, 23);
        trainer.setActive("n");
        try {
            assertTrue(maxAbsDiff(noGrad(() -> Harness.encode(trainer, batch)), baseOutput) > 0, spec);
            trainer.deactivate();
            Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(trainer, batch)), spec + " deactivated");
        } finally {
            trainer.deleteAdapter("n");
        }
    }
}
