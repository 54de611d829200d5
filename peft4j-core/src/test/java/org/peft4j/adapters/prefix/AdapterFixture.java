package org.peft4j.adapters.prefix;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.LoadedAdapter;
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
 * Runs one adapter fixture case (a PEFT or AdapterHub folder over the {@code hf/<arch>} base): loads it
 * through the adapter file code, forwards the fixture inputs, takes the fixtures' loss, backpropagates,
 * and reports the relative error {@code max|a-b| / max|b|} of the output, the loss and every gradient.
 */
public final class AdapterFixture {
    private AdapterFixture() {}

    /** Relative errors by what was compared: "output", "loss", "grad.<name>". */
    public static Map<String, Double> run(String arch, Path caseDir) throws IOException {
        Path hf = Fixtures.dir("hf").resolve(arch);
        Map<String, Double> errors = new LinkedHashMap<>();
        try (PretrainedModel pm = ModelLoader.load(hf.resolve("base"));
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(hf.resolve("inputs.safetensors"));
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(caseDir.resolve("expected.safetensors"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            LoadedAdapter adapter = AdapterFiles.load(model, caseDir, null);
            model.setActive(adapter.name());
            model.train(adapter.name());
            Map<String, Tensor> in = inputs.tensors();
            Tensor output = forward(model, in);
            Tensor loss = loss(pm.config(), output, in, model.virtualTokens());
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            errors.put("output", relError(output, exp.get("output")));
            errors.put("loss", relError(loss, exp.get("loss")));
            Map<String, Tensor> params = model.namedParameters();
            for (Map.Entry<String, Tensor> e : exp.entrySet()) {
                if (!e.getKey().startsWith("grad.")) continue;
                String tree = adapter.memoryNameToTree().get(e.getKey().substring(5));
                if (tree == null) throw new AssertionError("no tensor for expected gradient " + e.getKey() + " in " + adapter.memoryNameToTree());
                Tensor grad = params.get(tree).grad();
                if (grad == null) throw new AssertionError(tree + " got no gradient");
                errors.put(e.getKey(), relError(grad, e.getValue()));
            }
        }
        return errors;
    }

    /** The last hidden state (encoders) or logits (decoders, virtual tokens first). */
    public static Tensor forward(PeftModel model, Map<String, Tensor> in) {
        if (model.config().architecture().isDecoder()) return model.logits(in.get("input_ids"), in.get("attention_mask"), null);
        return model.encode(in.get("input_ids"), in.get("attention_mask"), null, null);
    }

    /**
     * The fixtures' loss: sum(output · loss_weights · mask) / sum(mask) for encoders, shifted causal-LM
     * cross-entropy for decoders with -100 labels at the {@code virtual} prompt positions.
     */
    public static Tensor loss(ModelConfig c, Tensor output, Map<String, Tensor> in, int virtual) {
        if (!c.architecture().isDecoder()) {
            Tensor mask = in.get("attention_mask").to(DType.F32);
            int b = mask.size(0), t = mask.size(1);
            Tensor weighted = Elementwise.mul(Elementwise.mul(output, in.get("loss_weights")), mask.reshape(b, t, 1));
            return Elementwise.scale(Reductions.sum(weighted), 1.0 / Reductions.sum(mask).item());
        }
        Tensor labels = in.get("labels");
        if (virtual > 0) labels = withIgnoredPrefix(labels, virtual);
        return CrossEntropy.causalLm(output, labels, -100);
    }

    /** [B, T] labels with {@code n} columns of -100 in front (the virtual prompt positions). */
    static Tensor withIgnoredPrefix(Tensor labels, int n) {
        int b = labels.size(0), t = labels.size(1);
        long[] src = labels.toLongArray(), out = new long[b * (n + t)];
        for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(out, i * (n + t), i * (n + t) + n, -100);
            System.arraycopy(src, i * t, out, i * (n + t) + n, t);
        }
        return Tensor.of(out, b, n + t);
    }

    /** max|a-b| / max|b| after checking the element counts agree. */
    public static double relError(Tensor a, Tensor b) {
        if (b == null) throw new AssertionError("expected tensor missing");
        if (a.numel() != b.numel()) {
            throw new AssertionError("shape " + java.util.Arrays.toString(a.shape()) + " vs expected " + java.util.Arrays.toString(b.shape()));
        }
        double num = 0, den = 0;
        for (long i = 0, n = b.numel(); i < n; i++) {
            num = Math.max(num, Math.abs(a.getFlat(i) - b.getFlat(i)));
            den = Math.max(den, Math.abs(b.getFlat(i)));
        }
        return den == 0 ? num : num / den;
    }
}
