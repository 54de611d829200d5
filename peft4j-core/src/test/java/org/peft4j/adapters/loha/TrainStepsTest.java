package org.peft4j.adapters.loha;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/**
 * A few training steps of each PEFT-format method of this family on the tiny BERT, with its training-time
 * dropouts on: the loss falls, only the adapter's tensors get gradients, and the trained adapter survives
 * PEFT and peft4j saves and loads bit for bit.
 */
class TrainStepsTest {
    @ParameterizedTest
    @ValueSource(strings = {
        "loha[r=2,alpha=4,rank_dropout=0.2,module_dropout=0.1,target_modules=query|value|dense]",
        "lokr[r=2,alpha=4,rank_dropout=0.2,rank_dropout_scale=true,module_dropout=0.1,target_modules=query|value|dense]",
        "ia3[target_modules=key|value|output.dense,feedforward_modules=output.dense]"})
    void trainsSavesAndReloads(String spec, @TempDir Path dir) throws Exception {
        Path hf = Fixtures.dir("hf").resolve("bert");
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> in = AdapterFixtureRun.readAll(hf.resolve("inputs.safetensors"));
            model.addAdapter("a", spec, 11);
            model.setActive("a");
            model.train("a");
            Map<String, Tensor> own = model.adapterParameters("a");
            AdamW opt = new AdamW(List.of(new ParamGroup(own, 1e-2, 0)));
            double before = loss(model, in);
            model.trainMode(true);
            for (int step = 0; step < 5; step++) {
                opt.zeroGrad();
                AdapterFixtureRun.loss(model.config(), AdapterFixtureRun.forward(model, in), in).backward();
                opt.step();
            }
            model.trainMode(false);
            model.namedParameters().forEach((n, t) -> {
                if (!own.containsKey(n)) assertNull(t.grad(), "frozen " + n + " got a gradient");
            });
            double after = loss(model, in);
            assertTrue(after < before, spec + ": loss " + before + " -> " + after);

            PeftFormatSupport support = (PeftFormatSupport) MethodRegistry.method(model.adapter("a").configs().get(0).method());
            AdapterFixtureRun.peftRoundTrip(model, "a", model, "b", support, dir);
            Tensor trained = AdapterFixtureRun.output(model, in);
            model.setActive("b");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), trained));
            // The same through the library's PEFT folder writer and reader.
            Path folder = dir.resolve("saved");
            AdapterFiles.savePeft(model, "a", folder);
            AdapterFiles.load(model, folder, "c");
            model.setActive("c");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), trained));
            // And through peft4j's own folder format, back under the same name.
            AdapterFiles.save(model, "a", dir.resolve("own"));
            model.deleteAdapter("a");
            AdapterFiles.load(model, dir.resolve("own"), "a");
            model.setActive("a");
            assertEquals(0, AdapterFixtureRun.relError(AdapterFixtureRun.output(model, in), trained));
        }
    }

    private static double loss(PeftModel model, Map<String, Tensor> in) {
        try (var s = GradMode.noGrad()) {
            return AdapterFixtureRun.loss(model.config(), AdapterFixtureRun.forward(model, in), in).item();
        }
    }
}
