package org.peft4j.conformance;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.CausalLm;
import org.peft4j.models.GenerationConfig;
import org.peft4j.models.Generator;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.bert.BertModel;
import org.peft4j.nn.Module;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Runs every case of a fixture folder in the layout of {@code fixtures/hf/README.md}: the model's
 * output, loss and every parameter's gradient, and greedy generation for decoders. A case it cannot
 * run is a failure, never a skip.
 */
public final class Conformance {
    static final double OUTPUT_TOL = 1e-4;
    static final double GRAD_TOL = 1e-3;
    /**
     * Gradients below this fraction of the case's largest gradient are compared in absolute terms
     * (to {@code GRAD_TOL * NOISE_FLOOR} of that largest gradient, i.e. 1e-6 of it): a gradient that is
     * zero in exact arithmetic holds only float32 noise in the reference too.
     */
    static final double NOISE_FLOOR = 1e-3;

    private Conformance() {}

    /** Runs every case under {@code root}, printing one line per case and a summary; returns the results. */
    public static List<CaseResult> run(Path root, PrintStream out) throws IOException {
        List<CaseResult> results = new ArrayList<>();
        List<Path> archs;
        try (Stream<Path> s = Files.list(root)) {
            archs = s.filter(Files::isDirectory).sorted().toList();
        }
        if (archs.isEmpty()) throw new IOException(root + ": no architecture folders");
        for (Path arch : archs) {
            List<Path> cases;
            try (Stream<Path> s = Files.list(arch)) {
                cases = s.filter(Files::isDirectory).sorted((a, b) -> a.getFileName().toString().equals("base") ? -1
                        : b.getFileName().toString().equals("base") ? 1 : a.compareTo(b)).toList();
            }
            for (Path c : cases) {
                CaseResult r = new CaseResult(arch.getFileName() + "/" + c.getFileName());
                try {
                    if (c.getFileName().toString().equals("base")) runBase(arch, c, r);
                    else if (Files.exists(c.resolve("adapter_config.json"))) AdapterCases.runAdapter(root, arch, c, r);
                    else if (Files.exists(c.resolve("expected_compose.safetensors")) || Files.exists(c.resolve("expected_fusion.safetensors"))) {
                        AdapterCases.runCompose(root, arch, c, results, out);
                        continue;
                    } else if (c.getFileName().toString().startsWith("mixed")) AdapterCases.runMixed(root, arch, c, r);
                    else r.fail("not a case this runner understands (no adapter_config.json, base or compose files)");
                } catch (Exception | AssertionError e) {
                    r.fail(e.getClass().getSimpleName() + ": " + e.getMessage());
                }
                out.println(r.line());
                results.add(r);
            }
        }
        long passed = results.stream().filter(CaseResult::passed).count();
        out.println(passed + " passed, " + (results.size() - passed) + " failed");
        return results;
    }

    /** The base model: output, loss, the gradient of every parameter, and greedy generation. */
    static void runBase(Path arch, Path dir, CaseResult r) throws IOException {
        try (PretrainedModel pm = ModelLoader.load(dir);
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(arch.resolve("inputs.safetensors"));
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"))) {
            Module model = pm.model();
            model.requiresGrad(true);
            Map<String, Tensor> in = inputs.tensors();
            Tensor output = forward(pm, in);
            Tensor loss = loss(pm.config(), output, in);
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            compare(r, "output", "output", output, exp.get("output"), OUTPUT_TOL);
            compare(r, "loss", "loss", loss, exp.get("loss"), OUTPUT_TOL);
            double scale = gradientScale(exp);
            for (Map.Entry<String, Tensor> p : model.namedParameters().entrySet()) {
                Tensor want = exp.get("grad." + p.getKey());
                Tensor got = p.getValue().grad();
                if (want == null) {
                    if (got != null && maxAbs(got) != 0) r.fail("gradient of " + p.getKey() + " should be absent/zero");
                    continue;
                }
                compareGradient(r, "gradient of " + p.getKey(), got == null ? Tensor.zeros(want.shape()) : got, want, scale);
            }
            for (String key : exp.keySet()) {
                if (key.startsWith("grad.") && !model.namedParameters().containsKey(key.substring(5))) {
                    r.fail("expected gradient for unknown parameter " + key.substring(5));
                }
            }
            Path gen = dir.resolve("generate.safetensors");
            if (Files.exists(gen)) checkGeneration(pm, gen, r);
        }
    }

    static Tensor forward(PretrainedModel pm, Map<String, Tensor> in) {
        Tensor ids = in.get("input_ids"), mask = in.get("attention_mask");
        if (ids == null || mask == null) throw new IllegalArgumentException("inputs.safetensors needs input_ids and attention_mask");
        if (pm.model() instanceof BertModel bert) return bert.forward(ids, mask, null, null, null);
        return ((CausalLm) pm.model()).forward(ids, mask, null, null);
    }

    /** The fixtures' loss: masked weighted sum for encoders, shifted causal-LM cross-entropy for decoders. */
    static Tensor loss(ModelConfig c, Tensor output, Map<String, Tensor> in) {
        if (!c.architecture().isDecoder()) {
            Tensor weights = in.get("loss_weights");
            if (weights == null) throw new IllegalArgumentException("encoder inputs need loss_weights");
            Tensor mask = in.get("attention_mask").to(DType.F32);
            int b = mask.size(0), t = mask.size(1);
            Tensor weighted = Elementwise.mul(Elementwise.mul(output, weights), mask.reshape(b, t, 1));
            return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
        }
        return CrossEntropy.causalLm(output, in.get("labels"), -100);
    }

    static void checkGeneration(PretrainedModel pm, Path file, CaseResult r) throws IOException {
        try (SafetensorsCheckpoint g = SafetensorsCheckpoint.open(file)) {
            long[] prompt = g.tensor("prompt").toLongArray();
            long[] want = g.tensor("generated").toLongArray();
            long[] got = Generator.generate((CausalLm) pm.model(), prompt,
                    GenerationConfig.greedy(want.length - prompt.length, pm.config().eosTokenIds()));
            if (!java.util.Arrays.equals(got, want)) {
                r.fail("greedy generation " + java.util.Arrays.toString(got) + " != " + java.util.Arrays.toString(want));
            } else {
                r.error("generate", "generation", 0, 0);
            }
        }
    }

    /**
     * A gradient that is zero in exact arithmetic (BERT's key bias: softmax ignores a per-row shift)
     * holds only float32 noise in both engines, so its relative error is taken against at least
     * {@link #NOISE_FLOOR} times the case's largest gradient instead of against that noise.
     */
    static void compareGradient(CaseResult r, String what, Tensor got, Tensor want, double scale) {
        compare(r, "grad", what, got, want, GRAD_TOL, NOISE_FLOOR * scale);
    }

    /** The largest |gradient| over every {@code grad.*} entry of an expected file. */
    static double gradientScale(Map<String, Tensor> expected) {
        double m = 0;
        for (Map.Entry<String, Tensor> e : expected.entrySet()) if (e.getKey().startsWith("grad.")) m = Math.max(m, maxAbs(e.getValue()));
        return m;
    }

    static void compare(CaseResult r, String kind, String what, Tensor got, Tensor want, double tol) {
        compare(r, kind, what, got, want, tol, 0);
    }

    /** Relative error max|a-b| / max(max|b|, floor) as the fixtures define it, with shape checking. */
    static void compare(CaseResult r, String kind, String what, Tensor got, Tensor want, double tol, double floor) {
        if (want == null) {
            r.fail("expected file has no " + what);
            return;
        }
        if (got.numel() != want.numel()) {
            r.fail(what + " shape " + java.util.Arrays.toString(got.shape()) + " != " + java.util.Arrays.toString(want.shape()));
            return;
        }
        double num = 0, den = 0;
        for (long i = 0, n = want.numel(); i < n; i++) {
            double a = got.getFlat(i), b = want.getFlat(i);
            num = Math.max(num, Math.abs(a - b));
            den = Math.max(den, Math.abs(b));
        }
        den = Math.max(den, floor);
        r.error(kind, what, den == 0 ? num : num / den, tol);
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0, n = t.numel(); i < n; i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }
}
