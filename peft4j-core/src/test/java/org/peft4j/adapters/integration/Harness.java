package org.peft4j.adapters.integration;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.models.heads.Pooling;
import org.peft4j.nn.Module;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;
import org.peft4j.tokenizer.Encoding;
import org.peft4j.tokenizer.HfTokenizer;

/** Shared pieces of the cross-method tests: the built-in MiniLM with a few real sentences, the decoder fixtures, tensor helpers. */
final class Harness {
    static final String MINILM = "builtin:all-minilm-l6-v2";
    /** Four short sentences and their made-up sentiment labels. */
    static final List<String> SENTENCES = List.of("The film was wonderful.", "Service was slow and rude.",
            "What a lovely sunny day!", "The update broke my phone.");
    static final Tensor LABELS = Tensor.of(new long[] {1, 0, 1, 0}, 4);
    private static final ForwardState EVAL = new ForwardState(null, null, false, null);

    private Harness() {}

    static PretrainedModel miniLm() throws IOException {
        return ModelSource.resolve(MINILM).load(ModelLoader.WeightStorage.AS_STORED);
    }

    static Encoding sentences() throws IOException {
        try (HfTokenizer tokenizer = ModelSource.resolve(MINILM).tokenizer()) {
            return tokenizer.encodeBatch(SENTENCES, 32);
        }
    }

    /** A mean-pooled two-label classification head over MiniLM's hidden states. */
    static ClassificationHead head(PeftModel model, long seed) {
        return new ClassificationHead(ClassificationHead.Task.SEQUENCE, Pooling.MEAN, model.config().hiddenSize(),
                List.of("negative", "positive"), 0.0, seed);
    }

    static Tensor encode(PeftModel model, Encoding batch) {
        return model.encode(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), new java.util.SplittableRandom(5));
    }

    static Tensor logits(ClassificationHead head, Tensor hidden, Encoding batch) {
        return head.forward(hidden, batch.attentionMask(), EVAL);
    }

    static Tensor classificationLoss(PeftModel model, ClassificationHead head, Encoding batch) {
        return CrossEntropy.loss(logits(head, encode(model, batch), batch), LABELS);
    }

    /** The value of {@code f} computed without recording gradients. */
    static Tensor noGrad(Supplier<Tensor> f) {
        try (var s = GradMode.noGrad()) {
            return f.get();
        }
    }

    /**
     * Fails unless {@code actual} equals {@code expected} up to 1e-6 of the output's scale (max(1, max|expected|)).
     * Bit-for-bit equality is not promised: until the JIT has compiled the vector kernels, the same forward
     * may round differently in the last bits (about 2e-6 on MiniLM's hidden states, whose largest value is about 6).
     */
    static double assertSame(Tensor expected, Tensor actual, String what) {
        double diff = maxAbsDiff(expected, actual);
        double scale = 1;
        for (long i = 0; i < expected.numel(); i++) scale = Math.max(scale, Math.abs(expected.getFlat(i)));
        if (diff > 1e-6 * scale) throw new AssertionError(what + ": max abs difference " + diff + " (output scale " + scale + ")");
        return diff;
    }

    /** Runs a few training passes with the common kinds of adapters, so the JIT settles before outputs are compared. */
    static void warmUp(PeftModel model, Encoding batch) {
        model.addAdapter("warm_up", "seq_bn|lora|prefix_tuning_flat[prefix_length=4]", 1);
        model.setActive("warm_up");
        model.train("warm_up");
        ClassificationHead head = head(model, 1);
        for (int i = 0; i < 8; i++) {
            model.trainMode(true);
            classificationLoss(model, head, batch).backward();
            model.trainMode(false);
            noGrad(() -> encode(model, batch));
        }
        model.deleteAdapter("warm_up");
        for (int i = 0; i < 4; i++) noGrad(() -> encode(model, batch));
    }

    /** Deletes every adapter of the model and clears its composition, row adapters and AdapterDrop. */
    static void reset(PeftModel model) {
        for (String n : model.adapterNames()) model.deleteAdapter(n);
        model.deactivate();
        model.context().setRowAdapters(null);
        model.context().setDropBelowLayer(0);
        model.trainMode(false);
    }

    static double maxAbsDiff(Tensor a, Tensor b) {
        if (!java.util.Arrays.equals(a.shape(), b.shape())) {
            throw new AssertionError("shapes differ: " + java.util.Arrays.toString(a.shape()) + " vs " + java.util.Arrays.toString(b.shape()));
        }
        double worst = 0;
        for (long i = 0; i < a.numel(); i++) worst = Math.max(worst, Math.abs(a.getFlat(i) - b.getFlat(i)));
        return worst;
    }

    /** Rows {@code from..from+n} of a [B, ...] tensor. */
    static Tensor rows(Tensor t, int from, int n) { return t.narrow(0, from, n).contiguous(); }

    // ------------------------------------------------------------------ decoder fixtures (fixtures/hf/<arch>)

    static Path hf(String arch) { return Fixtures.dir("hf").resolve(arch); }

    /** Every tensor of a safetensors file, copied to the heap. */
    static Map<String, Tensor> readAll(Path file) throws IOException {
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(file)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            c.tensors().forEach((k, t) -> out.put(k, t.detachedCopy(t.dtype())));
            return out;
        }
    }

    /** A decoder's causal-LM loss on the fixture inputs (labels -100 at prepended virtual tokens). */
    static Tensor causalLoss(PeftModel model, Map<String, Tensor> in) {
        Tensor logits = model.logits(in.get("input_ids"), in.get("attention_mask"), null);
        Tensor labels = in.get("labels");
        int extra = logits.size(1) - labels.size(1);
        if (extra > 0) {
            int b = labels.size(0), t = labels.size(1);
            long[] padded = new long[b * (extra + t)];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < extra + t; j++) {
                    padded[i * (extra + t) + j] = j < extra ? CrossEntropy.DEFAULT_IGNORE_INDEX : labels.getLong(i, j - extra);
                }
            }
            labels = Tensor.of(padded, b, extra + t);
        }
        return CrossEntropy.causalLm(logits, labels);
    }

    // ------------------------------------------------------------------ tensors of a model

    /** The module at a dotted path of the base model or of the model's extras. */
    static Module owner(PeftModel model, String path) {
        Map<String, Module> base = model.base().namedModules();
        if (base.containsKey(path)) return base.get(path);
        return model.extras().module(path);
    }

    /** Replaces every tensor of adapter {@code name} by a float64 copy that requires a gradient; returns them in order. */
    static Tensor[] adapterToF64(PeftModel model, String name) {
        List<Tensor> out = new ArrayList<>();
        for (String path : model.adapterParameters(name).keySet()) {
            Tensor copy = model.namedParameters().get(path).detachedCopy(DType.F64).requiresGrad(true);
            int dot = path.lastIndexOf('.');
            owner(model, path.substring(0, dot)).registerParameter(path.substring(dot + 1), copy);
            out.add(copy);
        }
        return out.toArray(Tensor[]::new);
    }

    /** Saves a head's tensors beside an adapter folder's files. */
    static void saveHead(ClassificationHead head, Path file) throws IOException {
        Safetensors.write(file, head.namedParameters());
    }

    /** A fresh head of the same labels with the tensors of {@code file}. */
    static ClassificationHead loadHead(PeftModel model, Path file) throws IOException {
        ClassificationHead head = head(model, 99);
        Map<String, Tensor> saved = readAll(file);
        head.namedParameters().forEach((n, t) -> t.copyFrom(saved.get(n)));
        return head;
    }
}
