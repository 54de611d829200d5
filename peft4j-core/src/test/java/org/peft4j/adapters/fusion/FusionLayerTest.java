package org.peft4j.adapters.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/** One fusion layer on its own: the math against a plain-loop reference, initialisation, temperature, regularisation, config forms. */
class FusionLayerTest {
    private static final int B = 2, T = 3, D = 5, N = 3;

    @Test
    void forwardMatchesReferenceForEveryVariant() {
        for (String spec : List.of("fuse", "fuse[static=true]", "fuse[temperature=true]", "fuse[residual_before=true]",
                "fuse[value_before_softmax=false]", "fuse[query=false,key=false]")) {
            FusionConfig c = (FusionConfig) MethodRegistry.parse(spec).get(0);
            FusionLayer layer = f64(new FusionLayer(c, D, new SplittableRandom(3)), 10);
            layer.setSteps(7);
            Tensor q = GradCheck.randn(1, B, T, D), r = GradCheck.randn(2, B, T, D);
            List<Tensor> ups = List.of(GradCheck.randn(3, B, T, D), GradCheck.randn(4, B, T, D), GradCheck.randn(5, B, T, D));
            Tensor got = layer.forward(q, ups, r, null);
            double[] want = reference(layer, c, q.doubles(), ups.stream().map(Tensor::doubles).toList(), r.doubles());
            double[] g = got.doubles();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], g[i], 1e-12, spec + " element " + i);
        }
    }

    /** out = Σ_i softmax_i((W_Q q + b_Q)·(W_K u_i + b_K) / T) W_V u_i + r, row by row, with the variants' switches. */
    private static double[] reference(FusionLayer layer, FusionConfig c, double[] q, List<double[]> ups, double[] r) {
        double t = layer.temperature();
        double[] out = new double[q.length];
        for (int row = 0; row < B * T; row++) {
            double[] qr = slice(q, row);
            double[] res = slice(r, row);
            double[][] u = new double[N][];
            for (int i = 0; i < N; i++) {
                u[i] = slice(ups.get(i), row);
                if (c.residualBefore()) for (int j = 0; j < D; j++) u[i][j] += res[j];
            }
            double[] qp = apply(layer, "query", qr);
            double[] scores = new double[N];
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < N; i++) {
                double[] k = apply(layer, "key", u[i]);
                for (int j = 0; j < D; j++) scores[i] += qp[j] * k[j];
                scores[i] /= t;
                max = Math.max(max, scores[i]);
            }
            double z = 0;
            for (int i = 0; i < N; i++) z += Math.exp(scores[i] - max);
            double[] ctx = new double[D];
            for (int i = 0; i < N; i++) {
                double p = Math.exp(scores[i] - max) / z;
                double[] v = c.valueBeforeSoftmax() ? apply(layer, "value", u[i]) : u[i];
                for (int j = 0; j < D; j++) ctx[j] += p * v[j];
            }
            if (!c.valueBeforeSoftmax()) ctx = apply(layer, "value", ctx);
            for (int j = 0; j < D; j++) out[row * D + j] = ctx[j] + (c.residualBefore() ? 0 : res[j]);
        }
        return out;
    }

    private static double[] slice(double[] a, int row) { return java.util.Arrays.copyOfRange(a, row * D, row * D + D); }

    /** W x + b of the named child, or x when the layer has no such child. */
    private static double[] apply(FusionLayer layer, String name, double[] x) {
        if (!layer.hasChild(name)) return x;
        Linear l = layer.child(name);
        double[] w = l.weight().doubles(), b = l.bias() == null ? new double[D] : l.bias().doubles();
        double[] y = new double[D];
        for (int o = 0; o < D; o++) {
            y[o] = b[o];
            for (int i = 0; i < D; i++) y[o] += w[o * D + i] * x[i];
        }
        return y;
    }

    @Test
    void initialisationFollowsAdapterHub() {
        FusionLayer dyn = new FusionLayer(FusionConfig.dynamic(List.of("a", "b")), 64, new SplittableRandom(1));
        double[] v = dyn.<Linear>child("value").weight().doubles();
        for (int i = 0; i < 64; i++) for (int j = 0; j < 64; j++) assertEquals(i == j ? 1.0 : 1e-6, v[i * 64 + j], 1e-12);
        assertNull(dyn.<Linear>child("value").bias(), "W_V has no bias");
        for (String p : List.of("query", "key")) {
            double[] w = dyn.<Linear>child(p).weight().doubles();
            double mean = java.util.Arrays.stream(w).average().orElseThrow();
            double std = Math.sqrt(java.util.Arrays.stream(w).map(x -> (x - mean) * (x - mean)).average().orElseThrow());
            assertEquals(0.02, std, 0.002, p + " std");
            assertTrue(java.util.Arrays.stream(dyn.<Linear>child(p).bias().doubles()).allMatch(x -> x == 0), p + " bias zero");
        }
        FusionLayer stat = new FusionLayer(FusionConfig.staticFusion(List.of("a", "b")), 64, new SplittableRandom(1));
        assertFalse(stat.hasChild("value"), "static fusion has no value projection");
        assertNull(stat.valueRegularization());
        assertEquals(2 * (64 * 64 + 64), stat.namedParameters().values().stream().mapToLong(Tensor::numel).sum());
        assertEquals(3 * 64 * 64 + 2 * 64, dyn.namedParameters().values().stream().mapToLong(Tensor::numel).sum());
    }

    @Test
    void staticEqualsDynamicWithAnIdentityValue() {
        FusionLayer stat = f64(new FusionLayer(FusionConfig.staticFusion(List.of("a", "b", "c")), D, new SplittableRandom(5)), 20);
        FusionLayer dyn = f64(new FusionLayer(FusionConfig.dynamic(List.of("a", "b", "c")), D, new SplittableRandom(5)), 20);
        double[] eye = new double[D * D];
        for (int i = 0; i < D; i++) eye[i * D + i] = 1;
        dyn.<Linear>child("value").registerParameter("weight", Tensor.of(eye, D, D));
        Tensor q = GradCheck.randn(1, B, T, D), r = GradCheck.randn(2, B, T, D);
        List<Tensor> ups = List.of(GradCheck.randn(3, B, T, D), GradCheck.randn(4, B, T, D), GradCheck.randn(5, B, T, D));
        assertEquals(GradCheck.relError(stat.forward(q, ups, r, null).doubles(), dyn.forward(q, ups, r, null).doubles()), 0.0, 1e-14);
    }

    @Test
    void temperatureFallsBy005PerTrainingStepToOne() {
        FusionLayer on = f64(new FusionLayer((FusionConfig) MethodRegistry.parse("fuse[adapters=a|b,temperature=true]").get(0), D, new SplittableRandom(1)), 1);
        FusionLayer off = new FusionLayer(FusionConfig.dynamic(List.of("a", "b")), D, new SplittableRandom(1));
        assertEquals(50.0, on.temperature());
        assertEquals(1.0, off.temperature());
        Tensor q = GradCheck.randn(1, 1, 1, D), r = GradCheck.randn(2, 1, 1, D);
        List<Tensor> ups = List.of(GradCheck.randn(3, 1, 1, D), GradCheck.randn(4, 1, 1, D));
        ForwardState train = new ForwardState(null, null, true, new SplittableRandom(1));
        ForwardState eval = new ForwardState(null, null, false, null);
        for (int i = 0; i < 3; i++) on.forward(q, ups, r, train);
        on.forward(q, ups, r, eval);
        assertEquals(3, on.steps(), "evaluation does not advance the schedule");
        assertEquals(50 - 3 * 0.05, on.temperature(), 1e-12);
        on.setSteps(979);
        assertEquals(1.05, on.temperature(), 1e-12);
        on.forward(q, ups, r, train);
        assertEquals(1.0, on.temperature(), 1e-12);
        on.setSteps(100_000);
        assertEquals(1.0, on.temperature());
        assertThrows(IllegalArgumentException.class, () -> on.setSteps(-1));
    }

    @Test
    void valueRegularizationIsOneHundredthOfSquaredDistanceToIdentity() {
        FusionLayer layer = f64(new FusionLayer(FusionConfig.dynamic(List.of("a", "b")), D, new SplittableRandom(1)), 30);
        double[] w = layer.<Linear>child("value").weight().doubles();
        double want = 0;
        for (int i = 0; i < D; i++) for (int j = 0; j < D; j++) want += Math.pow((i == j ? 1 : 0) - w[i * D + j], 2);
        want *= 0.01;
        assertEquals(want, layer.valueRegularization().item(), 1e-12);
        GradCheck.check("value regularisation", in -> layer.valueRegularization(), layer.<Linear>child("value").weight());
        FusionLayer fresh = new FusionLayer(FusionConfig.dynamic(List.of("a", "b")), 64, new SplittableRandom(1));
        assertEquals(0.01 * (64 * 64 - 64) * 1e-12, fresh.valueRegularization().item(), 1e-16, "near-identity start (1e-6 in float32)");
    }

    @Test
    void configFormsAndErrors() {
        FusionConfig c = (FusionConfig) MethodRegistry.parse("fuse[adapters=a|b|c,temperature=true,dropout_prob=0.1]").get(0);
        assertEquals(List.of("a", "b", "c"), c.adapters());
        assertTrue(c.temperature() && c.value() && c.regularization() && c.valueInitialized());
        assertEquals(0.1, c.dropout());
        FusionConfig s = (FusionConfig) MethodRegistry.parse("fuse[static=true]").get(0);
        assertFalse(s.value() || s.regularization() || s.valueInitialized());
        assertEquals(c, new FusionMethod().fromJson(c.toJson()), "JSON round trip");
        assertEquals(s.withAdapters(List.of("x", "y")), new FusionMethod().fromJson(s.withAdapters(List.of("x", "y")).toJson()));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("fuse[temprature=true]"));
        assertTrue(unknown.getMessage().contains("temperature"), unknown.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("fuse[adapters=a|a]"));
        assertThrows(IllegalArgumentException.class, () -> MethodRegistry.parse("fuse[dropout_prob=1.5]"));
        assertEquals("a,b,c", FusionLayer.key(org.peft4j.adapters.composition.Fuse.of("a", "b", "c")));
        assertEquals("b,c", FusionLayer.key((org.peft4j.adapters.composition.Fuse) org.peft4j.adapters.composition.Composition.parse("Fuse(Stack(a, b), c)")));
        assertEquals(FusionConfig.read(new ConfigArgs("fuse", java.util.Map.of())), FusionConfig.dynamic(List.of()));
    }

    /** Replaces every tensor below {@code m} by a float64 one in [-0.8, 0.8) that requires a gradient. */
    static <M extends Module> M f64(M m, long seed) {
        for (Module mod : m.namedModules().values()) {
            for (String p : List.copyOf(mod.ownParameters().keySet())) mod.registerParameter(p, GradCheck.uniform(seed++, -0.8, 0.8, mod.parameter(p).shape()));
        }
        return m;
    }
}
