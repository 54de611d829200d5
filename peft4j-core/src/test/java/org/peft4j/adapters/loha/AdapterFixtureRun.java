package org.peft4j.adapters.loha;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.Safetensors;
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
 * Runs one adapter case of the shared fixtures (PEFT: {@code fixtures/hf/<arch>/<case>}, AdapterHub:
 * {@code fixtures/adapterhub/<arch>/<case>} over the hf base) through a method's format support: load the
 * base, add the adapter from the folder's config, copy the saved tensors in by their tree names, train it,
 * forward, loss, backward, and measure output, loss and every expected gradient (relative error
 * max|a-b| / max|b|, as the fixtures define it).
 */
public final class AdapterFixtureRun {
    public static final double OUTPUT_TOL = 1e-4;
    public static final double GRAD_TOL = 1e-3;
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdapterFixtureRun() {}

    /** Relative errors of one case: output, loss, and each gradient by its fixture name. */
    public record Errors(String caseName, double output, double loss, Map<String, Double> gradients) {
        public double worstGradient() { return gradients.values().stream().mapToDouble(Double::doubleValue).max().orElse(0); }

        /** Fails unless every error is within the fixtures' tolerances. */
        public void check() {
            System.out.printf("%s: output %.2e, loss %.2e, %d gradients, worst %.2e%n", caseName, output, loss, gradients.size(),
                    worstGradient());
            assertTrue(output <= OUTPUT_TOL, caseName + ": output error " + output);
            assertTrue(loss <= OUTPUT_TOL, caseName + ": loss error " + loss);
            gradients.forEach((n, e) -> assertTrue(e <= GRAD_TOL, caseName + ": gradient " + n + " error " + e));
        }
    }

    /** A PEFT case, run as adapter "default" (PEFT's in-memory name of the fixtures' gradients). */
    public static Errors peft(String arch, String caseName, PeftFormatSupport support) throws IOException {
        Path hf = Fixtures.dir("hf").resolve(arch);
        Path dir = hf.resolve(caseName);
        String name = "default";
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            Map<String, Tensor> saved = readAll(dir.resolve("adapter_model.safetensors"));
            loadPeft(model, name, readJson(dir.resolve("adapter_config.json")), saved, support);
            Map<String, String> gradientToTree = new LinkedHashMap<>();
            for (String key : saved.keySet()) gradientToTree.put("grad." + support.peftMemoryName(key, name), support.treeName(key, name));
            return run(arch + "/" + caseName, model, name, readAll(hf.resolve("inputs.safetensors")),
                    readAll(dir.resolve("expected.safetensors")), gradientToTree);
        }
    }

    /** An AdapterHub case over the hf base of the same architecture. */
    public static Errors adapterHub(String arch, String caseName, AdapterHubFormatSupport support) throws IOException {
        Path hf = Fixtures.dir("hf").resolve(arch);
        Path dir = Fixtures.dir("adapterhub").resolve(arch).resolve(caseName);
        String name = "hub";
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            JsonNode config = readJson(dir.resolve("adapter_config.json")).get("config");
            assertTrue(support.accepts(config), caseName + ": config not accepted");
            model.addAdapter(name, List.of(support.fromAdapterHubConfig(config)), 0);
            Map<String, Tensor> saved = readAll(dir.resolve("adapter.safetensors"));
            copyIn(model, name, saved, key -> support.treeName(key, name));
            Map<String, String> gradientToTree = new LinkedHashMap<>();
            for (String key : saved.keySet()) gradientToTree.put("grad." + key, support.treeName(key, name));
            return run("adapterhub " + arch + "/" + caseName, model, name, readAll(hf.resolve("inputs.safetensors")),
                    readAll(dir.resolve("expected.safetensors")), gradientToTree);
        }
    }

    /** Adds adapter {@code name} from a PEFT config and copies the saved tensors into it. */
    public static void loadPeft(PeftModel model, String name, JsonNode config, Map<String, Tensor> saved, PeftFormatSupport support) {
        MethodConfig c = support.fromPeftConfig(config);
        model.addAdapter(name, List.of(c), 0);
        copyIn(model, name, saved, key -> support.treeName(key, name));
    }

    /** Copies every saved tensor into the adapter's tensor of the same shape; each adapter tensor must be written once. */
    public static void copyIn(PeftModel model, String name, Map<String, Tensor> saved, Function<String, String> treeName) {
        Map<String, Tensor> own = model.adapterParameters(name);
        Map<String, Boolean> written = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : saved.entrySet()) {
            String tree = treeName.apply(e.getKey());
            assertNotNull(tree, "no tree name for saved key " + e.getKey());
            Tensor target = own.get(tree);
            if (target == null) fail("saved key " + e.getKey() + " maps to " + tree + ", not a tensor of adapter " + name + ": " + own.keySet());
            assertArrayEquals(target.shape(), e.getValue().shape(), "shape of " + tree);
            target.copyFrom(e.getValue());
            assertTrue(written.put(tree, true) == null, tree + " written twice");
        }
        assertEquals(own.keySet(), written.keySet(), "every adapter tensor must come from the file");
    }

    private static Errors run(String caseName, PeftModel model, String name, Map<String, Tensor> in, Map<String, Tensor> expected,
            Map<String, String> gradientToTree) {
        model.setActive(name);
        model.train(name);
        Tensor output = forward(model, in);
        Tensor loss = loss(model.config(), output, in);
        loss.backward();
        Map<String, Tensor> params = model.namedParameters();
        Map<String, Double> grads = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            if (!e.getKey().startsWith("grad.")) continue;
            String tree = gradientToTree.get(e.getKey());
            assertNotNull(tree, caseName + ": no tensor for expected " + e.getKey());
            Tensor grad = params.get(tree).grad();
            assertNotNull(grad, caseName + ": no gradient for " + tree);
            grads.put(e.getKey().substring(5), relError(grad, e.getValue()));
        }
        // A tensor off the loss path (RoBERTa's pooler.dense when targeted) has no gradient in PyTorch, so none is
        // expected; here it must be absent or zero.
        for (Map.Entry<String, Tensor> e : model.adapterParameters(name).entrySet()) {
            if (gradientToTree.containsValue(e.getKey()) && expected.containsKey(keyOf(gradientToTree, e.getKey()))) continue;
            Tensor grad = e.getValue().grad();
            if (grad != null) assertEquals(0, relError(grad, Tensor.zeros(grad.shape())), caseName + ": " + e.getKey() + " has a gradient");
        }
        return new Errors(caseName, relError(output, expected.get("output")), relError(loss, expected.get("loss")), grads);
    }

    private static String keyOf(Map<String, String> gradientToTree, String tree) {
        return gradientToTree.entrySet().stream().filter(e -> e.getValue().equals(tree)).map(Map.Entry::getKey).findFirst().orElseThrow();
    }

    /** The model's output: last hidden state for encoders, logits for decoders. */
    public static Tensor forward(PeftModel model, Map<String, Tensor> in) {
        Tensor ids = in.get("input_ids"), mask = in.get("attention_mask");
        return model.config().architecture().isDecoder() ? model.logits(ids, mask, null) : model.encode(ids, mask, null, null);
    }

    /** {@link #forward} without recording a graph. */
    public static Tensor output(PeftModel model, Map<String, Tensor> in) {
        try (var s = GradMode.noGrad()) {
            return forward(model, in);
        }
    }

    /** The fixtures' loss (see fixtures/hf/README.md). */
    static Tensor loss(ModelConfig c, Tensor output, Map<String, Tensor> in) {
        if (!c.architecture().isDecoder()) {
            Tensor mask = in.get("attention_mask").to(DType.F32);
            int b = mask.size(0), t = mask.size(1);
            Tensor weighted = Elementwise.mul(Elementwise.mul(output, in.get("loss_weights")), mask.reshape(b, t, 1));
            return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
        }
        return CrossEntropy.causalLm(output, in.get("labels"), -100);
    }

    public static double relError(Tensor a, Tensor b) {
        assertEquals(b.numel(), a.numel(), "sizes differ");
        double num = 0, den = 0;
        for (long i = 0, n = b.numel(); i < n; i++) {
            num = Math.max(num, Math.abs(a.getFlat(i) - b.getFlat(i)));
            den = Math.max(den, Math.abs(b.getFlat(i)));
        }
        return den == 0 ? num : num / den;
    }

    /** Every tensor of a safetensors file, copied to the heap. */
    public static Map<String, Tensor> readAll(Path path) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            c.tensors().forEach((n, t) -> out.put(n, t.detachedCopy(t.dtype())));
        }
        return out;
    }

    public static JsonNode readJson(Path path) throws IOException { return JSON.readTree(Files.readString(path)); }

    /**
     * Saves adapter {@code name} as a PEFT folder would hold it (config JSON + tensors by saved key) and loads it
     * back into {@code into} as adapter {@code newName}; returns the saved tensors by key.
     */
    /**
     * Loads the fixture's PEFT adapter {@code hf/<arch>/<kase>} as "orig", saves it as PEFT and reads it
     * back as "copy": the saved keys are the fixture's and both adapters give the same output. Returns the
     * model (still open inside {@code pm}) for further checks.
     */
    public static PeftModel assertPeftSaveLoadKeepsOutputs(PretrainedModel pm, Path hf, String kase, PeftFormatSupport method, Path dir)
            throws IOException {
        PeftModel model = new PeftModel(pm.model(), pm.config());
        Map<String, Tensor> in = readAll(hf.resolve("inputs.safetensors"));
        Map<String, Tensor> fixture = readAll(hf.resolve(kase + "/adapter_model.safetensors"));
        loadPeft(model, "orig", readJson(hf.resolve(kase + "/adapter_config.json")), fixture, method);
        Map<String, Tensor> saved = peftRoundTrip(model, "orig", model, "copy", method, dir);
        assertEquals(fixture.keySet(), saved.keySet());
        model.setActive("orig");
        Tensor original = output(model, in);
        model.setActive("copy");
        assertEquals(0, relError(output(model, in), original));
        return model;
    }

    public static Map<String, Tensor> peftRoundTrip(PeftModel from, String name, PeftModel into, String newName, PeftFormatSupport support,
            Path dir) throws IOException {
        Map<String, Tensor> saved = new LinkedHashMap<>();
        from.adapterParameters(name).forEach((tree, t) -> saved.put(support.peftKey(tree, name), t.detachedCopy(DType.F32)));
        MethodConfig config = from.adapter(name).configs().get(0);
        Files.writeString(dir.resolve("adapter_config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(support.toPeftConfig(config)));
        Safetensors.write(dir.resolve("adapter_model.safetensors"), saved);
        loadPeft(into, newName, readJson(dir.resolve("adapter_config.json")), readAll(dir.resolve("adapter_model.safetensors")), support);
        return saved;
    }
}
