package org.peft4j.adapters.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.AdapterHubCases;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.Tensor;

/**
 * AdapterHub's fusion fixtures ({@code adapterhub/<arch>/compose}: seq_bn adapters a, b, c and the dynamic
 * {@code Fuse(a, b, c)} layers in {@code fusion_abc}), read through {@link FusionMethod#loadFusion}: output,
 * loss (without value regularisation) and the gradient of every fusion tensor, only the fusion layers
 * training.
 *
 * <p>Gradients are compared as the fixtures define (max|a − b| / max|b|, 1e-3) but against at least
 * {@value #NOISE_FLOOR} times the case's largest gradient. The key biases' gradients are zero in exact
 * arithmetic (softmax ignores the shift q·b_K, the same for every adapter), so both engines hold only
 * float32 rounding there: about 2e-9 on BERT, 1e-7 of the largest gradient, in AdapterHub's file itself.
 */
class FusionFixtureTest {
    static final double NOISE_FLOOR = 1e-3;

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama"})
    void fuseMatchesAdapterHub(String arch) throws IOException {
        Path dir = AdapterHubCases.caseDir(arch, "compose");
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected_fusion.safetensors"))) {
            PeftModel model = b.model();
            for (String n : new String[] {"a", "b", "c"}) AdapterFiles.load(model, dir.resolve(n), null);
            Map<String, String> keys = new FusionMethod().loadFusion(model, dir.resolve("fusion_abc"));
            model.setActive(Fuse.of("a", "b", "c"));
            model.train(FusionMethod.entryName(java.util.List.of("a", "b", "c")));
            Tensor out = AdapterHubCases.forward(b);
            Tensor loss = AdapterHubCases.loss(b, out);
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            double output = AdapterHubCases.relError(out, exp.get("output"), 0);
            double lossErr = AdapterHubCases.relError(loss.reshape(1), exp.get("loss").reshape(1), 0);
            assertTrue(output <= 1e-4, arch + " output relative error " + output);
            assertTrue(lossErr <= 1e-4, arch + " loss relative error " + lossErr);
            double scale = 0;
            for (Map.Entry<String, Tensor> e : exp.entrySet()) if (e.getKey().startsWith("grad.")) scale = Math.max(scale, maxAbs(e.getValue()));
            Map<String, Tensor> params = model.namedParameters();
            double worst = 0;
            int grads = 0;
            for (Map.Entry<String, Tensor> e : exp.entrySet()) {
                if (!e.getKey().startsWith("grad.")) continue;
                String tree = keys.get(e.getKey().substring(5));
                assertNotNull(tree, "the fusion file has no tensor " + e.getKey().substring(5));
                Tensor got = params.get(tree).grad();
                assertNotNull(got, "no gradient for " + tree);
                double err = AdapterHubCases.relError(got, e.getValue(), NOISE_FLOOR * scale);
                assertTrue(err <= 1e-3, arch + " gradient of " + tree + " relative error " + err);
                worst = Math.max(worst, err);
                grads++;
            }
            assertEquals(keys.size(), grads, "every fusion tensor has an expected gradient");
            long trained = params.values().stream().filter(Tensor::requiresGrad).count();
            assertEquals(keys.size(), trained, "only the fusion layers train");
            System.out.printf("%s/compose:fusion output %.2e, loss %.2e, worst gradient %.2e over %d%n", arch, output, lossErr, worst, grads);
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0, n = t.numel(); i < n; i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }
}
