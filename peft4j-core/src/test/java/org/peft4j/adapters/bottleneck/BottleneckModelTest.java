package org.peft4j.adapters.bottleneck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.tensor.Tensor;

/**
 * Bottleneck adapters on the tiny fixture models: no-op initialisation, AdapterDrop, dropout,
 * trainable shapes against the installed tensors, deletion, and save → load round trips in AdapterHub's
 * layout (through this method's key mapping both ways) and in peft4j's own format.
 */
class BottleneckModelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static Tensor run(AdapterHubCases.Base b) {
        try (var s = GradMode.noGrad()) {
            return AdapterHubCases.forward(b);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = ';', value = {"bert; par_bn", "bert; scaled_par_bn", "bert; par_bn[mh_adapter=true]",
        "bert; double_seq_bn[init_weights=mam_adapter]", "bert; seq_bn[init_weights=mam_adapter]",
        "llama; par_bn", "llama; scaled_par_bn[mh_adapter=true]", "llama; double_seq_bn[init_weights=mam_adapter]",
        "gpt2; par_bn[mh_adapter=true]"})
    void noOpInitialisationGivesTheBaseOutputExactly(String arch, String spec) throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch)) {
            Tensor base = run(b);
            b.model().addAdapter("a", spec, 3);
            b.model().setActive("a");
            assertArrayEquals(base.floats(), run(b).floats(), spec);
        }
    }

    @Test
    void adapterDropRemovesAdaptersFromTheFirstLayers() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            Tensor base = run(b);
            b.model().addAdapter("a", "double_seq_bn", 3);
            b.model().setActive("a");
            Tensor all = run(b);
            b.model().context().setDropBelowLayer(1);
            Tensor dropOne = run(b);
            b.model().context().setDropBelowLayer(b.config().numLayers());
            assertArrayEquals(base.floats(), run(b).floats(), "every layer dropped");
            assertFalse(Arrays.equals(all.floats(), dropOne.floats()));
            assertFalse(Arrays.equals(base.floats(), dropOne.floats()));
        }
    }

    @Test
    void dropoutActsOnlyInTraining() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            b.model().addAdapter("a", "seq_bn[dropout=0.5]", 3);
            b.model().addAdapter("b", "seq_bn", 3);
            b.model().setActive("a");
            Tensor eval = run(b);
            b.model().setActive("b");
            assertArrayEquals(eval.floats(), run(b).floats(), "same weights, no dropout outside training");
            b.model().setActive("a");
            b.model().trainMode(true);
            Tensor ids = b.inputs().get("input_ids"), mask = b.inputs().get("attention_mask");
            Tensor train;
            try (var s = GradMode.noGrad()) {
                train = b.model().encode(ids, mask, null, new SplittableRandom(1));
            }
            assertFalse(Arrays.equals(eval.floats(), train.floats()));
        }
    }

    @Test
    void mixedBatchRunsEachRowWithItsOwnAdapter() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            Tensor base = run(b);
            b.model().addAdapter("a", "seq_bn", 3);
            // BatchSplit runs its first adapter's pre-forward for all rows, so b shares a's placement here.
            b.model().addAdapter("b", "seq_bn[non_linearity=gelu]", 4);
            b.model().setActive("a");
            Tensor onlyA = run(b);
            b.model().setActive("BatchSplit(a, b; 1, 1)");
            Tensor split = run(b);
            b.model().deactivate();
            b.model().context().setRowAdapters(List.of("a", "b"));
            assertArrayEquals(split.floats(), run(b).floats(), "rows [a, b] = BatchSplit(a, b)");
            b.model().context().setRowAdapters(List.of("__base__", "a"));
            float[] mixed = run(b).floats();
            int row = base.size(1) * base.size(2);
            assertArrayEquals(Arrays.copyOfRange(base.floats(), 0, row), Arrays.copyOfRange(mixed, 0, row), "row 0 without adapter");
            assertArrayEquals(Arrays.copyOfRange(onlyA.floats(), row, 2 * row), Arrays.copyOfRange(mixed, row, 2 * row), "row 1 with a");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = ';', value = {"bert; seq_bn", "bert; double_seq_bn[ln_before=true,ln_after=true,use_gating=true,scaling=channel]",
        "bert; scaled_par_bn[leave_out=1]", "bert; compacter[reduction_factor=4]",
        "bert; compacter++[reduction_factor=4,shared_phm_rule=false,factorized_phm_W=false]",
        "llama; seq_bn[reduction_factor={\"1\": 4, \"default\": 8}]", "llama; compacter[reduction_factor=8,phm_rank=2]",
        "gpt2; double_seq_bn", "gpt2; compacter[reduction_factor=4]"})
    void parameterShapesAreTheInstalledTensors(String arch, String spec) throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch)) {
            var config = MethodRegistry.parse(spec).get(0);
            Map<String, int[]> predicted = MethodRegistry.method(config.method()).parameterShapes(b.model().shape(), "a", config);
            b.model().addAdapter("a", spec, 3);
            Map<String, String> want = new TreeMap<>(), got = new TreeMap<>();
            predicted.forEach((k, v) -> want.put(k, Arrays.toString(v)));
            b.model().adapterParameters("a").forEach((k, v) -> got.put(k, Arrays.toString(v.shape())));
            assertEquals(want, got);
        }
    }

    @Test
    void deletingAnAdapterRemovesEveryTensorItAdded() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("llama")) {
            Tensor base = run(b);
            int before = b.model().namedParameters().size();
            b.model().addAdapter("a", "compacter[reduction_factor=4]", 3);
            b.model().addAdapter("b", "seq_bn", 3);
            b.model().setActive("Stack(a, b)");
            assertNotEquals(base.floats()[0], run(b).floats()[0]);
            b.model().deleteAdapter("a");
            b.model().deleteAdapter("b");
            assertEquals(before, b.model().namedParameters().size());
            assertArrayEquals(base.floats(), run(b).floats());
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = ';', value = {"bert; seq_bn[reduction_factor=4,ln_before=true,ln_after=true,use_gating=true,scaling=learned]",
        "bert; scaled_par_bn[mh_adapter=true]", "roberta; compacter++[reduction_factor=4]",
        "llama; compacter[reduction_factor=4]", "llama; double_seq_bn[scaling=channel,ln_before=true]",
        "gpt2; compacter[reduction_factor=4]"})
    void adapterHubLayoutRoundTrip(String arch, String spec) throws IOException {
        Path dir = tmp.resolve("ah");
        Files.createDirectories(dir);
        Tensor saved;
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch)) {
            b.model().addAdapter("rt", spec, 3);
            randomise(b.model(), "rt");
            b.model().setActive("rt");
            saved = run(b);
            writeAdapterHubFolder(b.model(), "rt", dir);
        }
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch)) {
            AdapterHubCases.load(b.model(), dir);
            b.model().setActive("rt");
            assertArrayEquals(saved.floats(), run(b).floats(), "own loader");
        }
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch)) {
            AdapterFiles.load(b.model(), dir, null);
            b.model().setActive("rt");
            assertArrayEquals(saved.floats(), run(b).floats(), "format loader");
        }
    }

    @Test
    void peft4jFormatRoundTrip() throws IOException {
        Path dir = tmp.resolve("own");
        Tensor saved;
        try (AdapterHubCases.Base b = AdapterHubCases.base("llama")) {
            b.model().addAdapter("rt", "compacter[reduction_factor=4,use_gating=true]", 3);
            randomise(b.model(), "rt");
            b.model().setActive("rt");
            saved = run(b);
            AdapterFiles.save(b.model(), "rt", dir);
        }
        try (AdapterHubCases.Base b = AdapterHubCases.base("llama")) {
            AdapterFiles.load(b.model(), dir, null);
            b.model().setActive("rt");
            assertArrayEquals(saved.floats(), run(b).floats());
        }
    }

    /** Fills every tensor of the adapter with random values, so no part of it is a no-op. */
    private static void randomise(PeftModel model, String name) {
        SplittableRandom r = new SplittableRandom(11);
        for (Tensor t : model.adapterParameters(name).values()) t.copyFrom(Init.uniform(r, 0.5, t.shape()));
    }

    /**
     * Writes the adapter as AdapterHub saves it: keys from {@link BottleneckMethod#adapterHubKey}, and,
     * with ln_before, the input LayerNorm a second time as {@code adapter_norm_before}.
     */
    private static void writeAdapterHubFolder(PeftModel model, String name, Path dir) throws IOException {
        BottleneckConfig c = (BottleneckConfig) model.adapter(name).configs().get(0);
        BottleneckMethod m = (BottleneckMethod) MethodRegistry.method(c.method());
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.adapterParameters(name).forEach((tree, t) -> {
            String key = m.adapterHubKey(tree, name, model.config());
            tensors.put(key, t);
            if (c.lnBefore() && key.contains(".adapter_down.0.")) tensors.put(key.replace(".adapter_down.0.", ".adapter_norm_before."), t);
            assertEquals(tree, m.treeName(AdapterHubCases.stripBasePrefix(model, key), name), "key mapping both ways");
        });
        Safetensors.write(dir.resolve("adapter.safetensors"), tensors);
        ObjectNode root = JSON.createObjectNode();
        root.set("config", c.toJson());
        root.put("hidden_size", model.config().hiddenSize());
        root.put("name", name);
        Files.writeString(dir.resolve("adapter_config.json"), root.toString());
        assertTrue(Files.size(dir.resolve("adapter.safetensors")) > 0);
    }
}
