package org.peft4j.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.bert.BertModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.Fixtures;

/** The shared Hugging Face fixtures as test inputs: their folders, inputs, expected outputs, and mutated copies. */
final class FixtureModels {
    static final ObjectMapper JSON = new ObjectMapper();

    private FixtureModels() {}

    /** {@code fixtures/hf/<arch>/base}. */
    static Path base(String arch) { return Fixtures.dir("hf").resolve(arch).resolve("base"); }

    /** The fixture's inputs (input_ids, attention_mask, ...), read into memory. */
    static Map<String, Tensor> inputs(String arch) throws IOException {
        return readAll(Fixtures.dir("hf").resolve(arch).resolve("inputs.safetensors"));
    }

    /** The base model's expected {@code output}. */
    static Tensor expectedOutput(String arch) throws IOException {
        return readAll(base(arch).resolve("expected.safetensors")).get("output");
    }

    /** Every tensor of a safetensors file (or checkpoint folder), copied to the heap so the file can close. */
    static Map<String, Tensor> readAll(Path path) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(path)) {
            c.tensors().forEach((n, t) -> out.put(n, t.detachedCopy(t.dtype())));
        }
        return out;
    }

    /** The model's output for the fixture inputs: last hidden state (encoders) or logits (decoders), no grad. */
    static Tensor forward(PretrainedModel pm, Map<String, Tensor> in) {
        try (var s = GradMode.noGrad()) {
            if (pm.model() instanceof BertModel bert) {
                return bert.forward(in.get("input_ids"), in.get("attention_mask"), null, null, null);
            }
            return ((CausalLm) pm.model()).forward(in.get("input_ids"), in.get("attention_mask"), null, null);
        }
    }

    /** max|a - b| / max|b| over every element, the fixtures' relative error. */
    static double relError(Tensor a, Tensor b) {
        if (a.numel() != b.numel()) throw new AssertionError("sizes differ: " + a.numel() + " vs " + b.numel());
        double num = 0, den = 0;
        for (long i = 0, n = b.numel(); i < n; i++) {
            num = Math.max(num, Math.abs(a.getFlat(i) - b.getFlat(i)));
            den = Math.max(den, Math.abs(b.getFlat(i)));
        }
        return den == 0 ? num : num / den;
    }

    /**
     * Writes a copy of a fixture's base checkpoint into {@code dir} after letting the callers change its
     * config (a JSON object) and its tensors (a mutable map in file order).
     */
    static Path copy(String arch, Path dir, Consumer<ObjectNode> config, Consumer<Map<String, Tensor>> tensors)
            throws IOException {
        ObjectNode c = (ObjectNode) JSON.readTree(base(arch).resolve("config.json").toFile());
        config.accept(c);
        Map<String, Tensor> t = readAll(base(arch).resolve("model.safetensors"));
        tensors.accept(t);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
        Safetensors.write(dir.resolve("model.safetensors"), t);
        return dir;
    }

    /** Renames every tensor through {@code renamer} in place, keeping the file order. */
    static void rename(Map<String, Tensor> tensors, java.util.function.UnaryOperator<String> renamer) {
        Map<String, Tensor> renamed = new LinkedHashMap<>();
        tensors.forEach((n, t) -> renamed.put(renamer.apply(n), t));
        tensors.clear();
        tensors.putAll(renamed);
    }
}
