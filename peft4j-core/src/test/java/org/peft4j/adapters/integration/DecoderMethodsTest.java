package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.adapters.integration.Harness.noGrad;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.Tensor;

/**
 * The unions (MAM, UniPELT) and prompt tuning on the decoder fixtures (tiny Llama and GPT-2): added,
 * trained a few steps on the causal-LM loss, saved and reloaded into a freshly loaded base with the same
 * logits; the frozen base gets no gradient.
 */
class DecoderMethodsTest {
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "llama; mam", "llama; unipelt", "llama; prompt_tuning[num_virtual_tokens=4]",
        "gpt2; mam", "gpt2; unipelt", "gpt2; prompt_tuning[num_virtual_tokens=4]"})
    void trainsSavesAndReloads(String arch, String spec, @TempDir Path dir) throws Exception {
        Map<String, Tensor> in = Harness.readAll(Harness.hf(arch).resolve("inputs.safetensors"));
        try (PretrainedModel pm = ModelLoader.load(Harness.hf(arch).resolve("base"));
             PretrainedModel fresh = ModelLoader.load(Harness.hf(arch).resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.addAdapter("a", spec, 5);
            model.setActive("a");
            model.train("a");
            Map<String, Tensor> own = model.adapterParameters("a");
            double before = noGrad(() -> Harness.causalLoss(model, in)).item();
            AdamW opt = new AdamW(List.of(new ParamGroup(own, 1e-2, 0)));
            model.trainMode(true);
            for (int step = 0; step < 3; step++) {
                opt.zeroGrad();
                Harness.causalLoss(model, in).backward();
                opt.step();
            }
            model.trainMode(false);
            model.namedParameters().forEach((n, t) -> {
                if (!own.containsKey(n)) assertNull(t.grad(), spec + ": frozen " + n + " got a gradient");
            });
            double after = noGrad(() -> Harness.causalLoss(model, in)).item();
            assertTrue(after < before, arch + " " + spec + ": loss " + before + " -> " + after);
            Tensor trained = noGrad(() -> model.logits(in.get("input_ids"), in.get("attention_mask"), null));

            PeftModel reloaded = new PeftModel(fresh.model(), fresh.config());
            AdapterFiles.save(model, "a", dir.resolve("peft4j"));
            AdapterFiles.load(reloaded, dir.resolve("peft4j"), "a");
            reloaded.setActive("a");
            Harness.assertSame(trained, noGrad(() -> reloaded.logits(in.get("input_ids"), in.get("attention_mask"), null)),
                    arch + " " + spec + ": peft4j folder");
            List<MethodConfig> configs = model.adapter("a").configs();
            if (configs.size() == 1 && MethodRegistry.method(configs.get(0).method()) instanceof PeftFormatSupport) {
                AdapterFiles.savePeft(model, "a", dir.resolve("peft"));
                AdapterFiles.load(reloaded, dir.resolve("peft"), "p");
                reloaded.setActive("p");
                Harness.assertSame(trained, noGrad(() -> reloaded.logits(in.get("input_ids"), in.get("attention_mask"), null)),
                        arch + " " + spec + ": PEFT folder");
            }
            System.out.printf("%s %s: loss %.4f -> %.4f, %d tensors%n", arch, spec, before, after, own.size());
        }
    }
}
