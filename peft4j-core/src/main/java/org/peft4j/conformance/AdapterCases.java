package org.peft4j.conformance;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.composition.BatchSplit;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.composition.Stack;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.FusionFormatSupport;
import org.peft4j.adapters.formats.LoadedAdapter;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;

/**
 * Adapter cases of a fixture folder: a PEFT or AdapterHub adapter over the architecture's base model
 * (an AdapterHub folder's bases and inputs live in the sibling {@code hf} folder), a mixed batch of
 * two adapters, and AdapterHub's composition and fusion cases.
 */
final class AdapterCases {
    private AdapterCases() {}

    /** The architecture's base checkpoint folder and inputs file: its own, or the sibling hf folder's. */
    static Path[] baseAndInputs(Path root, Path arch) throws IOException {
        for (Path dir : List.of(arch, root.toAbsolutePath().getParent().resolve("hf").resolve(arch.getFileName().toString()))) {
            if (Files.isDirectory(dir.resolve("base")) && Files.exists(dir.resolve("inputs.safetensors"))) {
                return new Path[] {dir.resolve("base"), dir.resolve("inputs.safetensors")};
            }
        }
        throw new IOException(arch + ": no base model (base/ and inputs.safetensors here or in ../hf/" + arch.getFileName() + ")");
    }

    /** One adapter folder: output, loss, the adapter's gradients, and the merged output where given. */
    static void runAdapter(Path root, Path arch, Path dir, CaseResult r) throws IOException {
        Path[] bi = baseAndInputs(root, arch);
        try (PretrainedModel pm = ModelLoader.load(bi[0]);
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(bi[1]);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            LoadedAdapter adapter = AdapterFiles.load(model, dir, null);
            model.setActive(adapter.name());
            model.train(adapter.name());
            Map<String, Tensor> in = inputs.tensors();
            Tensor output = forward(model, in);
            Tensor loss = Conformance.loss(pm.config(), output, withVirtualLabels(in, model.virtualTokens()));
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            Conformance.compare(r, "output", "output", output, exp.get("output"), Conformance.OUTPUT_TOL);
            Conformance.compare(r, "loss", "loss", loss, exp.get("loss"), Conformance.OUTPUT_TOL);
            compareGradients(r, model, exp, adapter.memoryNameToTree(), model.adapter(adapter.name()).parameterNames());
            Path merged = dir.resolve("expected_merged.safetensors");
            if (Files.exists(merged)) {
                try (SafetensorsCheckpoint m = SafetensorsCheckpoint.open(merged); var s = GradMode.noGrad()) {
                    model.mergeAndUnload();
                    model.deactivate();
                    Conformance.compare(r, "merged", "merged output", forward(model, in), m.tensor("output"), Conformance.OUTPUT_TOL);
                }
            }
        }
    }

    /** Two adapters in one batch, row i through adapter ["a","b","a",...][i]. */
    static void runMixed(Path root, Path arch, Path dir, CaseResult r) throws IOException {
        Path[] bi = baseAndInputs(root, arch);
        try (PretrainedModel pm = ModelLoader.load(bi[0]);
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(bi[1]);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(dir.resolve("expected.safetensors"));
             var s = GradMode.noGrad()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            List<String> names = new ArrayList<>();
            try (var sub = Files.list(dir)) {
                for (Path p : sub.filter(Files::isDirectory).sorted().toList()) {
                    names.add(AdapterFiles.load(model, p, p.getFileName().toString()).name());
                }
            }
            if (names.size() < 2) throw new IOException(dir + ": a mixed case needs at least two adapter folders");
            Map<String, Tensor> in = inputs.tensors();
            int b = in.get("input_ids").size(0);
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < b; i++) rows.add(names.get(i % names.size()));
            model.setActive(Composition.of(names.get(0)));
            model.context().setRowAdapters(rows);
            Conformance.compare(r, "output", "output", forward(model, in), expected.tensor("output"), Conformance.OUTPUT_TOL);
        }
    }

    /** AdapterHub's composition folder: Stack, BatchSplit and Fuse over the adapters a, b, c. */
    static void runCompose(Path root, Path arch, Path dir, List<CaseResult> results, PrintStream out) throws IOException {
        Path composeFile = dir.resolve("expected_compose.safetensors");
        if (Files.exists(composeFile)) {
            try (SafetensorsCheckpoint exp = SafetensorsCheckpoint.open(composeFile)) {
                for (String key : exp.tensors().keySet()) {
                    CaseResult r = new CaseResult(arch.getFileName() + "/" + dir.getFileName() + ":" + key);
                    try {
                        runComposeOutput(root, arch, dir, key, exp.tensor(key), r);
                    } catch (Exception | AssertionError e) {
                        r.fail(e.getClass().getSimpleName() + ": " + e.getMessage());
                    }
                    out.println(r.line());
                    results.add(r);
                }
            }
        }
        Path fusionFile = dir.resolve("expected_fusion.safetensors");
        if (Files.exists(fusionFile)) {
            CaseResult r = new CaseResult(arch.getFileName() + "/" + dir.getFileName() + ":fusion");
            try {
                runFusion(root, arch, dir, fusionFile, r);
            } catch (Exception | AssertionError e) {
                r.fail(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            out.println(r.line());
            results.add(r);
        }
    }

    private static List<String> loadAdapters(PeftModel model, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (var sub = Files.list(dir)) {
            for (Path p : sub.filter(q -> Files.exists(q.resolve("adapter_config.json"))).sorted().toList()) {
                names.add(AdapterFiles.load(model, p, null).name());
            }
        }
        return names;
    }

    private static void runComposeOutput(Path root, Path arch, Path dir, String key, Tensor want, CaseResult r) throws IOException {
        Path[] bi = baseAndInputs(root, arch);
        try (PretrainedModel pm = ModelLoader.load(bi[0]);
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(bi[1]);
             var s = GradMode.noGrad()) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            List<String> names = loadAdapters(model, dir);
            Map<String, Tensor> in = inputs.tensors();
            int b = in.get("input_ids").size(0);
            String[] parts = key.split("_", 2);
            if (parts.length != 2 || parts[1].length() < 2) throw new IOException("cannot read composition from key '" + key + "'");
            List<Composition> used = new ArrayList<>();
            for (char c : parts[1].toCharArray()) {
                String n = String.valueOf(c);
                if (!names.contains(n)) throw new IOException("key '" + key + "' uses adapter '" + n + "', folder has " + names);
                used.add(Composition.of(n));
            }
            Composition block = switch (parts[0]) {
                case "stack" -> new Stack(used);
                case "batchsplit" -> {
                    List<Integer> sizes = new ArrayList<>();
                    for (int i = 0; i < used.size() - 1; i++) sizes.add(1);
                    sizes.add(b - (used.size() - 1));
                    yield new BatchSplit(used, sizes);
                }
                default -> throw new IOException("unknown composition '" + parts[0] + "' in key '" + key + "'");
            };
            model.setActive(block);
            Conformance.compare(r, "output", key, forward(model, in), want, Conformance.OUTPUT_TOL);
        }
    }

    private static void runFusion(Path root, Path arch, Path dir, Path fusionFile, CaseResult r) throws IOException {
        FusionFormatSupport fusion = null;
        for (AdapterMethod m : MethodRegistry.methods()) if (m instanceof FusionFormatSupport f) fusion = f;
        if (fusion == null) throw new IOException("AdapterFusion is not available");
        Path[] bi = baseAndInputs(root, arch);
        Path fusionDir;
        try (var sub = Files.list(dir)) {
            fusionDir = sub.filter(p -> Files.exists(p.resolve("adapter_fusion_config.json"))).findFirst()
                    .orElseThrow(() -> new IOException(dir + ": no fusion folder (adapter_fusion_config.json)"));
        }
        try (PretrainedModel pm = ModelLoader.load(bi[0]);
             SafetensorsCheckpoint inputs = SafetensorsCheckpoint.open(bi[1]);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(fusionFile)) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            List<String> names = loadAdapters(model, dir);
            Map<String, String> keys = fusion.loadFusion(model, fusionDir);
            model.setActive(new Fuse(names.stream().map(Composition::of).toList()));
            for (Tensor t : model.namedParameters().values()) if (t.isLeaf()) t.requiresGrad(false);
            Map<String, Tensor> params = model.namedParameters();
            for (String tree : keys.values()) params.get(tree).requiresGrad(true);
            Map<String, Tensor> in = inputs.tensors();
            Tensor output = forward(model, in);
            Tensor loss = Conformance.loss(pm.config(), output, in);
            loss.backward();
            Map<String, Tensor> exp = expected.tensors();
            Conformance.compare(r, "output", "output", output, exp.get("output"), Conformance.OUTPUT_TOL);
            Conformance.compare(r, "loss", "loss", loss, exp.get("loss"), Conformance.OUTPUT_TOL);
            compareGradients(r, model, exp, keys, List.copyOf(keys.values()));
        }
    }

    static Tensor forward(PeftModel model, Map<String, Tensor> in) {
        Tensor ids = in.get("input_ids"), mask = in.get("attention_mask");
        return model.config().architecture().isDecoder() ? model.logits(ids, mask, null) : model.encode(ids, mask, null, null);
    }

    /** Labels with -100 for the virtual tokens prompt tuning prepends. */
    static Map<String, Tensor> withVirtualLabels(Map<String, Tensor> in, int virtual) {
        if (virtual == 0 || !in.containsKey("labels")) return in;
        Tensor labels = in.get("labels");
        int b = labels.size(0), t = labels.size(1);
        long[] padded = new long[b * (virtual + t)];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < virtual; j++) padded[i * (virtual + t) + j] = -100;
            for (int j = 0; j < t; j++) padded[i * (virtual + t) + virtual + j] = labels.getLong(i, j);
        }
        Map<String, Tensor> copy = new java.util.LinkedHashMap<>(in);
        copy.put("labels", Tensor.of(padded, b, virtual + t));
        return copy;
    }

    /** Every expected gradient against the tensor it names; every trained tensor must have one when any is given. */
    static void compareGradients(CaseResult r, PeftModel model, Map<String, Tensor> exp, Map<String, String> memoryToTree,
                                 List<String> trained) {
        Map<String, Tensor> params = model.namedParameters();
        double scale = Conformance.gradientScale(exp);
        List<String> covered = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : exp.entrySet()) {
            if (!e.getKey().startsWith("grad.")) continue;
            String memory = e.getKey().substring(5);
            String tree = memoryToTree.get(memory);
            if (tree == null) {
                r.fail("expected gradient '" + memory + "' names no tensor of the loaded adapter");
                continue;
            }
            Tensor got = params.get(tree).grad();
            Conformance.compareGradient(r, "gradient of " + memory, got == null ? Tensor.zeros(e.getValue().shape()) : got, e.getValue(), scale);
            covered.add(tree);
        }
        if (covered.isEmpty()) {
            r.error("grad", "no gradients expected", 0, 0);
            return;
        }
        for (String t : trained) {
            Tensor p = params.get(t);
            // a tensor off the loss path (RoBERTa's pooler) has no gradient in PyTorch, so none in the fixture
            if (p != null && p.requiresGrad() && !covered.contains(t) && p.grad() != null && Conformance.maxAbs(p.grad()) != 0) {
                r.fail("tensor " + t + " got a gradient but the fixture has none for it");
            }
        }
    }
}
