package org.peft4j.adapters.bottleneck;

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
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/**
 * Runs AdapterHub fixture cases ({@code shared/fixtures/adapterhub}) for bottleneck-family adapters:
 * loads the base of {@code fixtures/hf/<arch>}, reads the adapter folder through the methods' own
 * {@link AdapterHubFormatSupport}, and compares output, loss and every gradient with AdapterHub's.
 */
public final class AdapterHubCases {
    static final double OUTPUT_TOL = 1e-4, GRAD_TOL = 1e-3, NOISE_FLOOR = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The bottleneck-family methods, by name. */
    static final List<String> METHODS = List.of("seq_bn", "double_seq_bn", "par_bn", "scaled_par_bn", "compacter", "compacter++");

    private AdapterHubCases() {}

    /** A base fixture model wrapped for adapters, with its inputs. Close it to release the checkpoint. */
    public record Base(PretrainedModel pretrained, PeftModel model, Map<String, Tensor> inputs, SafetensorsCheckpoint inputFile)
            implements AutoCloseable {
        public ModelConfig config() { return pretrained.config(); }

        @Override
        public void close() {
            inputFile.close();
            pretrained.close();
        }
    }

    public static Base base(String arch) throws IOException {
        Path hf = Fixtures.dir("hf").resolve(arch);
        PretrainedModel pm = ModelLoader.load(hf.resolve("base"));
        SafetensorsCheckpoint in = SafetensorsCheckpoint.open(hf.resolve("inputs.safetensors"));
        return new Base(pm, new PeftModel(pm.model(), pm.config()), in.tensors(), in);
    }

    public static Path caseDir(String arch, String name) { return Fixtures.dir("adapterhub").resolve(arch).resolve(name); }

    /** The method that claims an AdapterHub config; fails unless exactly one bottleneck-family method does. */
    public static BottleneckMethod methodFor(JsonNode config) {
        List<BottleneckMethod> claims = new ArrayList<>();
        for (String n : METHODS) {
            AdapterMethod m = MethodRegistry.method(n);
            if (m instanceof BottleneckMethod b && b.accepts(config)) claims.add(b);
        }
        assertEquals(1, claims.size(), "methods claiming the config: " + claims);
        return claims.get(0);
    }

    /** Loads an AdapterHub folder into the model under its saved name; returns saved key → tree name. */
    public static Map<String, String> load(PeftModel model, Path dir) throws IOException {
        JsonNode root = JSON.readTree(dir.resolve("adapter_config.json").toFile());
        String name = root.get("name").asText();
        BottleneckMethod method = methodFor(root.get("config"));
        MethodConfig config = method.fromAdapterHubConfig(root.get("config"));
        model.addAdapter(name, List.of(config), 0);
        Map<String, Tensor> params = model.namedParameters();
        Map<String, String> keyToTree = new LinkedHashMap<>();
        try (SafetensorsCheckpoint file = SafetensorsCheckpoint.open(dir.resolve("adapter.safetensors"))) {
            for (Map.Entry<String, Tensor> e : file.tensors().entrySet()) {
                String tree = method.treeName(stripBasePrefix(model, e.getKey()), name);
                assertNotNull(tree, "no tree name for " + e.getKey());
                Tensor target = params.get(tree);
                assertNotNull(target, e.getKey() + " -> " + tree + " is not a tensor of the model");
                target.copyFrom(e.getValue());
                keyToTree.put(e.getKey(), tree);
            }
        }
        List<String> missing = new ArrayList<>(model.adapter(name).parameterNames());
        missing.removeAll(keyToTree.values());
        assertTrue(missing.isEmpty(), "the file does not fill " + missing);
        return keyToTree;
    }

    /** As the format loader does: a task model's base prefix that the tree lacks is dropped. */
    static String stripBasePrefix(PeftModel model, String key) {
        for (String prefix : List.of("bert.", "roberta.", "transformer.", "model.")) {
            if (key.startsWith(prefix) && !model.base().hasChild(prefix.substring(0, prefix.length() - 1))) return key.substring(prefix.length());
        }
        return key;
    }

    public static Tensor forward(Base b) {
        Tensor ids = b.inputs().get("input_ids"), mask = b.inputs().get("attention_mask");
        return b.config().architecture().isDecoder() ? b.model().logits(ids, mask, null) : b.model().encode(ids, mask, null, null);
    }

    /** The fixtures' loss (fixtures/hf/README.md). */
    public static Tensor loss(Base b, Tensor output) {
        Map<String, Tensor> in = b.inputs();
        if (b.config().architecture().isDecoder()) return CrossEntropy.causalLm(output, in.get("labels"), -100);
        Tensor mask = in.get("attention_mask").to(DType.F32);
        int batch = mask.size(0), t = mask.size(1);
        Tensor weighted = Elementwise.mul(Elementwise.mul(output, in.get("loss_weights")), mask.reshape(batch, t, 1));
        return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
    }

    /** max|a - b| / max(max|b|, floor). */
    public static double relError(Tensor a, Tensor b, double floor) {
        assertEquals(java.util.Arrays.toString(b.shape()), java.util.Arrays.toString(a.shape()), "shape");
        double[] x = a.detach().contiguous().to(DType.F64).doubles(), y = b.detach().contiguous().to(DType.F64).doubles();
        double diff = 0, scale = floor;
        for (int i = 0; i < y.length; i++) {
            diff = Math.max(diff, Math.abs(x[i] - y[i]));
            scale = Math.max(scale, Math.abs(y[i]));
        }
        return diff / scale;
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (double v : t.detach().contiguous().to(DType.F64).doubles()) m = Math.max(m, Math.abs(v));
        return m;
    }

    /** The errors of one adapter case: "output", "loss" and "grad.<key>" → relative error. */
    public static Map<String, Double> runCase(String arch, String caseName) throws IOException {
        try (Base b = base(arch);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(caseDir(arch, caseName).resolve("expected.safetensors"))) {
            Map<String, String> keyToTree = load(b.model(), caseDir(arch, caseName));
            String name = b.model().adapterNames().get(0);
            b.model().setActive(name);
            b.model().train(name);
            Tensor out = forward(b);
            Tensor loss = loss(b, out);
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            Map<String, Double> errors = new LinkedHashMap<>();
            errors.put("output", relError(out, exp.get("output"), 0));
            errors.put("loss", relError(loss.reshape(1), exp.get("loss").reshape(1), 0));
            double scale = 0;
            for (Map.Entry<String, Tensor> e : exp.entrySet()) {
                if (e.getKey().startsWith("grad.")) scale = Math.max(scale, maxAbs(e.getValue()));
            }
            Map<String, Tensor> params = b.model().namedParameters();
            int grads = 0;
            for (Map.Entry<String, Tensor> e : exp.entrySet()) {
                if (!e.getKey().startsWith("grad.")) continue;
                String key = e.getKey().substring(5);
                String tree = keyToTree.get(key);
                assertNotNull(tree, "expected gradient of " + key + ", which the adapter file does not hold");
                Tensor got = params.get(tree).grad();
                assertNotNull(got, "no gradient for " + tree);
                errors.put(e.getKey(), relError(got, e.getValue(), NOISE_FLOOR * scale));
                grads++;
            }
            assertEquals(b.model().adapter(name).parameterNames().size(), grads, "every adapter tensor has an expected gradient");
            return errors;
        }
    }

    /** Asserts every error of a case is within the fixtures' tolerances and returns the largest, for reporting. */
    public static double assertWithinTolerance(String label, Map<String, Double> errors) {
        double worst = 0;
        for (Map.Entry<String, Double> e : errors.entrySet()) {
            double tol = e.getKey().startsWith("grad.") ? GRAD_TOL : OUTPUT_TOL;
            assertTrue(e.getValue() <= tol, label + ": " + e.getKey() + " relative error " + e.getValue() + " > " + tol);
            worst = Math.max(worst, e.getValue());
        }
        System.out.printf("%s: output %.2e, loss %.2e, worst %.2e over %d checks%n", label, errors.get("output"), errors.get("loss"), worst, errors.size());
        return worst;
    }
}
