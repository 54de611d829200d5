package org.peft4j.adapters.compacter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.bottleneck.AdapterHubCases;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.Location;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/** The PHM layer's weight and output against the definition, its initialisation, and the shared rule. */
class PhmLayerTest {
    @Test
    void weightIsTheSumOfKroneckerProductsAndOutputIsXTimesWPlusB() {
        int n = 2, in = 6, out = 4, r = 2;
        PhmOptions o = new PhmOptions(true, n, r, true, false, true, 1e-4, "normal", "glorot-uniform");
        PhmLayer layer = new PhmLayer(in, out, o, null, new SplittableRandom(5));
        Tensor left = GradCheck.randn(1, n, in / n, r).detach(), right = GradCheck.randn(2, n, r, out / n).detach();
        Tensor rule = GradCheck.randn(3, n, n, n).detach(), b = GradCheck.randn(4, out).detach();
        layer.registerParameter("W_left", left);
        layer.registerParameter("W_right", right);
        layer.registerParameter("phm_rule", rule);
        layer.registerParameter("b", b);
        double[][] w = new double[in][out];
        int p = in / n, q = out / n;
        for (int i = 0; i < n; i++) {
            for (int a = 0; a < n; a++) for (int c = 0; c < n; c++) {
                for (int k = 0; k < p; k++) for (int l = 0; l < q; l++) {
                    double bkl = 0;
                    for (int s = 0; s < r; s++) bkl += left.get(i, k, s) * right.get(i, s, l);
                    w[a * p + k][c * q + l] += rule.get(i, a, c) * bkl;
                }
            }
        }
        Tensor weight = layer.weight();
        for (int i = 0; i < in; i++) for (int j = 0; j < out; j++) assertEquals(w[i][j], weight.get(i, j), 1e-12);
        Tensor x = GradCheck.randn(6, 3, in).detach();
        Tensor y = layer.forward(x);
        for (int t = 0; t < 3; t++) {
            for (int j = 0; j < out; j++) {
                double want = b.get(j);
                for (int i = 0; i < in; i++) want += x.get(t, i) * w[i][j];
                assertEquals(want, y.get(t, j), 1e-12);
            }
        }
    }

    @Test
    void initialisationFollowsTheDesign() {
        PhmOptions o = PhmOptions.DEFAULTS.withLayer(true);
        ModuleDict extras = new ModuleDict();
        var owner = SharedPhmRule.install(extras, "a", o, new SplittableRandom(9));
        float[] rule = owner.parameter("phm_rule").floats();
        double sq = 0;
        for (float v : rule) sq += (double) v * v;
        double std = Math.sqrt(sq / rule.length);
        assertTrue(std > 0.5e-4 && std < 2e-4, "rule std " + std);
        PhmLayer layer = new PhmLayer(32, 8, o, owner, new SplittableRandom(9));
        double bound = Math.sqrt(6.0 / (8 + 1));
        for (float v : layer.parameter("W_left").floats()) assertTrue(Math.abs(v) <= bound);
        for (float v : layer.parameter("b").floats()) assertEquals(0f, v);
        assertEquals(null, layer.parameter("phm_rule"), "a shared rule is not the layer's own");
    }

    @Test
    void everyPhmLayerOfAnAdapterReadsTheOneSharedRule() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            b.model().addAdapter("a", "compacter[reduction_factor=4]", 1);
            Map<String, Tensor> params = b.model().adapterParameters("a");
            assertEquals(1, params.keySet().stream().filter(k -> k.endsWith("phm_rule")).count());
            Tensor rule = params.get("shared_parameters.a.phm_rule");
            for (int layer = 0; layer < b.config().numLayers(); layer++) {
                for (Location loc : Location.values()) {
                    BottleneckSite site = (BottleneckSite) b.model().base().module(BottleneckSite.path(b.config(), layer, loc));
                    BottleneckAdapter adapter = site.adapter("a");
                    for (var projection : List.of(adapter.down(), adapter.up())) {
                        PhmLayer phm = (PhmLayer) projection;
                        assertTrue(maxAbs(phm.weight()) > 0);
                        Tensor saved = rule.detachedCopy(rule.dtype());
                        rule.copyFrom(Tensor.zeros(rule.shape()));
                        assertEquals(0.0, maxAbs(phm.weight()), "the layer's weight follows the shared rule");
                        rule.copyFrom(saved);
                    }
                }
            }
        }
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (long i = 0; i < t.numel(); i++) m = Math.max(m, Math.abs(t.getFlat(i)));
        return m;
    }

    @Test
    void sizesNotDivisibleByPhmDimAreRefusedBeforeAnythingIsInstalled() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert")) {
            int before = b.model().namedParameters().size();
            Exception e = assertThrows(IllegalArgumentException.class, () -> b.model().addAdapter("a", "compacter[phm_dim=3]", 1));
            assertTrue(e.getMessage().contains("phm_dim 3") && e.getMessage().contains("hidden size 32"), e.getMessage());
            Exception down = assertThrows(IllegalArgumentException.class, () -> b.model().addAdapter("a", "compacter[reduction_factor=16]", 1));
            assertTrue(down.getMessage().contains("output size 2"), down.getMessage());
            assertEquals(before, b.model().namedParameters().size());
            assertTrue(b.model().adapterNames().isEmpty());
        }
    }
}
