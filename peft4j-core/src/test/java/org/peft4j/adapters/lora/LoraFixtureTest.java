package org.peft4j.adapters.lora;

import static org.peft4j.adapters.lora.LoraFixtures.NOISE_FLOOR;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/**
 * Every LoRA case of the reference fixtures: PEFT's {@code lora}, {@code lora_rslora_bias} and
 * {@code dora} on all five architectures (output, loss, every gradient, output after
 * merge_and_unload), the mixed batch {@code mixed_ab}, and AdapterHub's {@code lora}.
 */
class LoraFixtureTest {

    @ParameterizedTest(name = "{0}/{1}")
    @CsvSource({
        "bert, lora", "bert, lora_rslora_bias", "bert, dora",
        "roberta, lora", "roberta, lora_rslora_bias", "roberta, dora",
        "gpt2, lora", "gpt2, lora_rslora_bias", "gpt2, dora",
        "llama, lora", "llama, lora_rslora_bias", "llama, dora",
        "qwen2, lora", "qwen2, lora_rslora_bias", "qwen2, dora"})
    void peftCase(String arch, String kase) throws IOException {
        Path archDir = Fixtures.dir("hf").resolve(arch), dir = archDir.resolve(kase);
        LoraFixtures.Errors errors = new LoraFixtures.Errors(arch + "/" + kase);
        try (PretrainedModel pm = ModelLoader.load(archDir.resolve("base"));
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(archDir.resolve("inputs.safetensors"));
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"));
             SafetensorsCheckpoint merged = SafetensorsCheckpoint.open(dir.resolve("expected_merged.safetensors"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, String> saved = LoraFixtures.loadPeft(model, dir, "default");
            model.setActive("default");
            model.train("default");
            Map<String, Tensor> in = inputs.tensors(), exp = expected.tensors();
            Tensor output = LoraFixtures.forward(model, in);
            Tensor loss = LoraFixtures.loss(pm.config(), output, in);
            loss.backward();
            errors.output("output", output, exp.get("output"));
            errors.output("loss", loss, exp.get("loss"));
            checkGradients(model, saved, exp, "default", errors);

            LoraMerge.mergeAndUnload(model, "default");
            try (var g = GradMode.noGrad()) {
                errors.output("merged output", LoraFixtures.forward(model, in), merged.tensors().get("output"));
            }
        }
        System.out.println(errors);
        errors.check();
    }

    /** Each expected gradient (PEFT in-memory names) against the tree tensor; adapter tensors without one must have none. */
    private static void checkGradients(PeftModel model, Map<String, String> saved, Map<String, Tensor> exp, String adapter,
                                       LoraFixtures.Errors errors) {
        double scale = 0;
        for (Map.Entry<String, Tensor> e : exp.entrySet()) {
            if (e.getKey().startsWith("grad.")) for (long i = 0; i < e.getValue().numel(); i++) scale = Math.max(scale, Math.abs(e.getValue().getFlat(i)));
        }
        Map<String, Tensor> params = model.namedParameters();
        List<String> checked = new ArrayList<>();
        for (Map.Entry<String, String> s : saved.entrySet()) {
            String memory = LoraFixtures.METHOD.peftMemoryName(s.getKey(), adapter);
            Tensor want = exp.get("grad." + memory);
            Tensor got = params.get(s.getValue()).grad();
            if (want == null) {
                if (got != null && LoraFixtures.relError(got, org.peft4j.tensor.Tensor.zeros(got.shape()), 1) > 0) {
                    errors.fail(s.getValue() + " has a gradient the fixture lacks");
                }
                continue;
            }
            errors.grad(memory, got, want, NOISE_FLOOR * scale);
            checked.add("grad." + memory);
        }
        for (String key : exp.keySet()) {
            if (key.startsWith("grad.") && !checked.contains(key)) errors.fail("expected " + key + " matches no adapter tensor");
        }
    }

    /** Two LoRA adapters in one batch: row i runs adapter ["a", "b", "a", ...][i]. */
    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "gpt2", "llama", "qwen2"})
    void mixedBatch(String arch) throws IOException {
        Path archDir = Fixtures.dir("hf").resolve(arch), dir = archDir.resolve("mixed_ab");
        LoraFixtures.Errors errors = new LoraFixtures.Errors(arch + "/mixed_ab");
        try (PretrainedModel pm = ModelLoader.load(archDir.resolve("base"));
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(archDir.resolve("inputs.safetensors"));
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"));
             var g = GradMode.noGrad()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            LoraFixtures.loadPeft(model, dir.resolve("a"), "a");
            LoraFixtures.loadPeft(model, dir.resolve("b"), "b");
            Map<String, Tensor> in = inputs.tensors();
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < in.get("input_ids").size(0); i++) rows.add(i % 2 == 0 ? "a" : "b");
            model.context().setRowAdapters(rows);
            errors.output("output", LoraFixtures.forward(model, in), expected.tensors().get("output"));
        }
        System.out.println(errors);
        errors.check();
    }

    /** AdapterHub's LoRA (r 4, alpha 8 on q and v): output, loss and the gradient of every saved tensor. */
    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama"})
    void adapterHubCase(String arch) throws IOException {
        Path dir = Fixtures.dir("adapterhub").resolve(arch).resolve("lora"), archDir = Fixtures.dir("hf").resolve(arch);
        LoraFixtures.Errors errors = new LoraFixtures.Errors("adapterhub " + arch + "/lora");
        try (PretrainedModel pm = ModelLoader.load(archDir.resolve("base"));
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(archDir.resolve("inputs.safetensors"));
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, String> saved = LoraFixtures.loadAdapterHub(model, dir, "lora");
            model.setActive("lora");
            model.train("lora");
            Map<String, Tensor> in = inputs.tensors(), exp = expected.tensors();
            Tensor output = LoraFixtures.forward(model, in);
            Tensor loss = LoraFixtures.loss(pm.config(), output, in);
            loss.backward();
            errors.output("output", output, exp.get("output"));
            errors.output("loss", loss, exp.get("loss"));
            Map<String, Tensor> params = model.namedParameters();
            for (Map.Entry<String, String> s : saved.entrySet()) {
                Tensor want = exp.get("grad." + s.getKey());
                if (want == null) errors.fail("no expected gradient for " + s.getKey());
                else errors.grad(s.getKey(), params.get(s.getValue()).grad(), want, 0);
            }
        }
        System.out.println(errors);
        errors.check();
    }
}
