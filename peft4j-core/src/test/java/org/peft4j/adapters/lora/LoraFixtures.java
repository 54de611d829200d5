package org.peft4j.adapters.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelConfig;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Shared steps of the LoRA fixture tests: load an adapter folder, run the fixtures' loss, compare. */
final class LoraFixtures {
    static final ObjectMapper JSON = new ObjectMapper();
    static final double OUTPUT_TOL = 1e-4, GRAD_TOL = 1e-3, NOISE_FLOOR = 1e-5;
    static final LoraMethod METHOD = new LoraMethod();

    private LoraFixtures() {}

    /** Adds adapter {@code name} from a PEFT folder and copies its weights in; returns saved key → tree name. */
    static Map<String, String> loadPeft(PeftModel model, Path dir, String name) throws IOException {
        MethodConfig config = METHOD.fromPeftConfig(JSON.readTree(dir.resolve("adapter_config.json").toFile()));
        model.addAdapter(name, List.of(config), 0);
        return copyWeights(model, dir.resolve("adapter_model.safetensors"), name);
    }

    /** Adds adapter {@code name} from an AdapterHub folder and copies its weights in; returns saved key → tree name. */
    static Map<String, String> loadAdapterHub(PeftModel model, Path dir, String name) throws IOException {
        JsonNode config = JSON.readTree(dir.resolve("adapter_config.json").toFile()).get("config");
        assertTrue(METHOD.accepts(config));
        model.addAdapter(name, List.of(METHOD.fromAdapterHubConfig(config)), 0);
        return copyWeights(model, dir.resolve("adapter.safetensors"), name);
    }

    private static Map<String, String> copyWeights(PeftModel model, Path file, String name) throws IOException {
        Map<String, String> names = new LinkedHashMap<>();
        Map<String, Tensor> params = model.namedParameters();
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(file)) {
            for (Map.Entry<String, Tensor> e : ck.tensors().entrySet()) {
                String tree = METHOD.treeName(e.getKey(), name);
                assertNotNull(tree, "no tree name for " + e.getKey());
                Tensor dst = params.get(tree);
                assertNotNull(dst, "no tensor " + tree + " for " + e.getKey());
                assertEquals(java.util.Arrays.toString(e.getValue().shape()), java.util.Arrays.toString(dst.shape()), tree);
                dst.copyFrom(e.getValue());
                names.put(e.getKey(), tree);
            }
        }
        assertEquals(model.adapter(name).parameterNames().size(), names.size(), "every adapter tensor is in the file");
        return names;
    }

    static Tensor forward(PeftModel model, Map<String, Tensor> in) {
        Tensor ids = in.get("input_ids"), mask = in.get("attention_mask");
        return model.config().architecture().isDecoder() ? model.logits(ids, mask, null) : model.encode(ids, mask, null, null);
    }

    /** The fixtures' loss (fixtures/hf/README.md). */
    static Tensor loss(ModelConfig c, Tensor output, Map<String, Tensor> in) {
        if (!c.architecture().isDecoder()) {
            Tensor mask = in.get("attention_mask").to(DType.F32);
            int b = mask.size(0), t = mask.size(1);
            Tensor weighted = Elementwise.mul(Elementwise.mul(output, in.get("loss_weights")), mask.reshape(b, t, 1));
            return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
        }
        return CrossEntropy.causalLm(output, in.get("labels"), -100);
    }

    /** max|a−b| / max(max|b|, floor). */
    static double relError(Tensor got, Tensor want, double floor) {
        assertEquals(want.numel(), got.numel(), "element count");
        double num = 0, den = 0;
        for (long i = 0; i < want.numel(); i++) {
            num = Math.max(num, Math.abs(got.getFlat(i) - want.getFlat(i)));
            den = Math.max(den, Math.abs(want.getFlat(i)));
        }
        den = Math.max(den, floor);
        return den == 0 ? num : num / den;
    }

    /** Errors of one case, worst first in the failure message. */
    static final class Errors {
        final String label;
        final List<String> failures = new ArrayList<>();
        double worstOutput, worstMerged, worstGrad;

        Errors(String label) { this.label = label; }

        void output(String what, Tensor got, Tensor want) {
            assertNotNull(want, label + ": expected file has no " + what);
            double e = relError(got, want, 0);
            if (what.startsWith("merged")) worstMerged = Math.max(worstMerged, e);
            else worstOutput = Math.max(worstOutput, e);
            if (!(e <= OUTPUT_TOL)) failures.add(what + " rel err " + e);
        }

        void grad(String what, Tensor got, Tensor want, double floor) {
            double e = relError(got == null ? Tensor.zeros(want.shape()) : got, want, floor);
            worstGrad = Math.max(worstGrad, e);
            if (!(e <= GRAD_TOL)) failures.add("grad " + what + " rel err " + e);
        }

        void fail(String message) { failures.add(message); }

        void check() {
            assertTrue(failures.isEmpty(), label + ": " + failures);
        }

        @Override
        public String toString() {
            return String.format("%s: output/loss %.2e, gradients %.2e, merged output %.2e", label, worstOutput, worstGrad, worstMerged);
        }
    }
}
