package org.peft4j.adapters.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.AdapterHubCases;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.Linear;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/** Fusion on a whole model: adding layers for training, the two-stage freeze, files, regularisation, errors. */
class FusionModelTest {
    private static final List<String> ABC = List.of("a", "b", "c");

    private static AdapterHubCases.Base withAdapters(String arch) throws IOException {
        AdapterHubCases.Base b = AdapterHubCases.base(arch);
        for (String n : ABC) AdapterFiles.load(b.model(), AdapterHubCases.caseDir(arch, "compose").resolve(n), null);
        return b;
    }

    private static FusionConfig config(String spec) { return (FusionConfig) MethodRegistry.parse(spec).get(0); }

    @Test
    void saveThenLoadGivesIdenticalOutputs(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("fusion_abc");
        Tensor before;
        FusionConfig saved = config("fuse[temperature=true,dropout_prob=0.1]").withAdapters(ABC);
        try (AdapterHubCases.Base b = withAdapters("bert"); var s = GradMode.noGrad()) {
            FusionMethod.addFusion(b.model(), ABC, saved, 11);
            perturb(b.model());
            b.model().setActive(Fuse.of("a", "b", "c"));
            before = AdapterHubCases.forward(b).contiguous();
            new FusionMethod().saveFusion(b.model(), ABC, dir);
        }
        assertTrue(Files.exists(dir.resolve("adapter_fusion_config.json")) && Files.exists(dir.resolve("adapter_fusion.safetensors")));
        try (var listing = Files.list(tmp)) {
            assertEquals(List.of(dir), listing.toList(), "no staging folder left behind");
        }
        try (AdapterHubCases.Base b = withAdapters("bert"); var s = GradMode.noGrad()) {
            Map<String, String> keys = new FusionMethod().loadFusion(b.model(), dir);
            assertEquals(10, keys.size());
            keys.forEach((k, v) -> assertEquals(k, v, "peft4j's fusion folder stores tensor names"));
            assertEquals(saved, b.model().adapter(FusionMethod.entryName(ABC)).configs().get(0), "config round trip");
            b.model().setActive(Fuse.of("a", "b", "c"));
            assertArrayEquals(before.floats(), AdapterHubCases.forward(b).contiguous().floats(), "identical outputs after reload");
            new FusionMethod().saveFusion(b.model(), ABC, dir);
            assertTrue(Files.exists(dir.resolve("adapter_fusion.safetensors")), "saving over an existing folder replaces it");
        }
    }

    /** Moves every fusion tensor away from its initial value, so the round trip compares trained-looking layers. */
    private static void perturb(PeftModel model) {
        SplittableRandom r = new SplittableRandom(5);
        for (Tensor t : model.adapterParameters(FusionMethod.entryName(ABC)).values()) {
            for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) + 0.1 * r.nextGaussian());
        }
    }

    @Test
    void secondStageTrainsOnlyTheFusionLayers() throws IOException {
        try (AdapterHubCases.Base b = withAdapters("bert")) {
            PeftModel m = b.model();
            AdapterEntry entry = FusionMethod.addFusion(m, ABC, FusionConfig.dynamic(ABC), 3);
            assertEquals(10, entry.parameterNames().size(), "query/key weight+bias and value weight at 2 layers");
            assertTrue(entry.parameterNames().contains("encoder.layer.0.output.adapters.adapter_fusion_layer.a,b,c.value.weight"));
            m.setActive(Fuse.of("a", "b", "c"));
            m.train(entry.name());
            Tensor loss = AdapterHubCases.loss(b, AdapterHubCases.forward(b));
            loss.backward();
            for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
                boolean fusion = entry.parameterNames().contains(e.getKey());
                assertEquals(fusion, e.getValue().requiresGrad(), e.getKey());
                if (fusion) assertTrue(e.getValue().grad() != null, "gradient for " + e.getKey());
                else assertEquals(null, e.getValue().grad(), "no gradient for frozen " + e.getKey());
            }
        }
    }

    @Test
    void shapesFromConfigMatchInstalledTensors() throws IOException {
        try (AdapterHubCases.Base b = withAdapters("llama")) {
            for (String spec : List.of("fuse", "fuse[static=true]")) {
                FusionConfig c = config(spec).withAdapters(ABC);
                AdapterEntry e = FusionMethod.addFusion(b.model(), ABC, c, 1);
                Map<String, int[]> want = new FusionMethod().parameterShapes(b.model().shape(), "x", c);
                Map<String, Tensor> got = b.model().adapterParameters(e.name());
                assertEquals(want.keySet(), got.keySet(), spec);
                want.forEach((n, shape) -> assertArrayEquals(shape, got.get(n).shape(), n));
                b.model().deleteAdapter(e.name());
                assertFalse(b.model().namedParameters().keySet().stream().anyMatch(n -> n.contains("adapter_fusion_layer")), "delete removes the layers");
            }
        }
    }

    @Test
    void regularizationSumsOverLayersOfRegularisedFusions() throws IOException {
        try (AdapterHubCases.Base b = withAdapters("bert")) {
            PeftModel m = b.model();
            assertEquals(0.0, FusionMethod.regularizationLoss(m).item());
            FusionMethod.addFusion(m, ABC, FusionConfig.dynamic(ABC), 3);
            FusionMethod.addFusion(m, List.of("a", "b"), FusionConfig.staticFusion(List.of()), 4);
            perturb(m);
            double want = 0;
            for (FusionLayer f : FusionMethod.layers(m, ABC).values()) {
                double[] w = f.<Linear>child("value").weight().doubles();
                int d = (int) Math.round(Math.sqrt(w.length));
                for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) want += Math.pow((i == j ? 1 : 0) - w[i * d + j], 2);
            }
            assertEquals(2, FusionMethod.layers(m, ABC).size());
            assertEquals(0.01 * want, FusionMethod.regularizationLoss(m).item(), 1e-9 * want);
            FusionMethod.setSteps(m, ABC, 40);
            for (FusionLayer f : FusionMethod.layers(m, ABC).values()) assertEquals(40, f.steps());
        }
    }

    @Test
    void dropoutOnScoresOnlyWhileTraining() {
        FusionLayer layer = new FusionLayer(config("fuse[dropout_prob=0.5]").withAdapters(List.of("a", "b")), 4, new SplittableRandom(2));
        Tensor q = GradCheck.randn(1, 2, 3, 4).detach(), r = GradCheck.randn(2, 2, 3, 4).detach();
        List<Tensor> ups = List.of(GradCheck.randn(3, 2, 3, 4).detach(), GradCheck.randn(4, 2, 3, 4).detach());
        Tensor eval = layer.forward(q, ups, r, new ForwardState(null, null, false, null));
        assertArrayEquals(eval.doubles(), layer.forward(q, ups, r, null).doubles(), "no dropout outside training");
        Tensor train = layer.forward(q, ups, r, new ForwardState(null, null, true, new SplittableRandom(9)));
        assertFalse(java.util.Arrays.equals(eval.doubles(), train.doubles()), "scores dropped while training");
    }

    @Test
    void refusesWhatDoesNotFit(@TempDir Path tmp) throws IOException {
        Path hub = AdapterHubCases.caseDir("bert", "compose").resolve("fusion_abc");
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            AdapterFiles.load(b.model(), AdapterHubCases.caseDir("bert", "compose").resolve("a"), null);
            AdapterFiles.load(b.model(), AdapterHubCases.caseDir("bert", "compose").resolve("b"), null);
            IOException missing = assertThrows(IOException.class, () -> new FusionMethod().loadFusion(b.model(), hub));
            assertTrue(missing.getMessage().contains("[c]"), missing.getMessage());
            b.model().addAdapter("d", "double_seq_bn[reduction_factor=4]", 1);
            IllegalArgumentException placement = assertThrows(IllegalArgumentException.class,
                    () -> FusionMethod.addFusion(b.model(), List.of("a", "d"), FusionConfig.dynamic(List.of()), 1));
            assertTrue(placement.getMessage().contains("share one placement"), placement.getMessage());
            assertThrows(IllegalArgumentException.class, () -> FusionMethod.addFusion(b.model(), List.of("a"), FusionConfig.dynamic(List.of()), 1));
            assertThrows(IllegalArgumentException.class, () -> FusionMethod.addFusion(b.model(), List.of("a", "x"), FusionConfig.dynamic(List.of()), 1));
            b.model().setActive(Fuse.of("a", "b"));
            IllegalStateException noLayer = assertThrows(IllegalStateException.class, () -> AdapterHubCases.forward(b));
            assertTrue(noLayer.getMessage().contains("no fusion layer over a,b"), noLayer.getMessage());
        }
        try (AdapterHubCases.Base b = withAdapters("bert")) {
            new FusionMethod().loadFusion(b.model(), hub);
            IOException twice = assertThrows(IOException.class, () -> new FusionMethod().loadFusion(b.model(), hub));
            assertTrue(twice.getMessage().contains("already exists"), twice.getMessage());
            Path own = tmp.resolve("own");
            new FusionMethod().saveFusion(b.model(), ABC, own);
            try (AdapterHubCases.Base llama = withAdapters("llama")) {
                IOException other = assertThrows(IOException.class, () -> new FusionMethod().loadFusion(llama.model(), own));
                assertTrue(other.getMessage().contains("does not fit") || other.getMessage().contains("base with"), other.getMessage());
                assertFalse(llama.model().adapterNames().contains(FusionMethod.entryName(ABC)), "nothing kept after a refused load");
            }
        }
    }

    @Test
    void adapterHubKeysMapToSiteTensorNames() throws IOException {
        try (AdapterHubCases.Base b = withAdapters("roberta")) {
            Map<String, String> keys = new LinkedHashMap<>(new FusionMethod().loadFusion(b.model(), AdapterHubCases.caseDir("roberta", "compose").resolve("fusion_abc")));
            assertEquals("encoder.layer.1.output.adapters.adapter_fusion_layer.a,b,c.key.bias",
                    keys.get("encoder.layer.1.output.adapter_fusion_layer.a,b,c.key.bias"));
        }
    }
}
