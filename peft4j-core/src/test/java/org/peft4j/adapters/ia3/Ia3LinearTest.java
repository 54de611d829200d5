package org.peft4j.adapters.ia3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.LinearAdapter;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Linear;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class Ia3LinearTest {
    private static AdaptedLinear layer(int out, int in) {
        AdapterContext context = new AdapterContext();
        context.setActive(Composition.of("a"));
        return new AdaptedLinear(new Linear(GradCheck.randn(1, out, in).detach(), GradCheck.randn(2, out).detach()), context, 0);
    }

    private static AdaptedLinear peft(int out, int in, boolean feedforward, Tensor l) {
        AdaptedLinear layer = layer(out, in);
        layer.container(Ia3Linear.CONTAINER).registerParameter("a", l);
        layer.add("a", new Ia3Linear("a", feedforward));
        return layer;
    }

    private static AdaptedLinear hub(int out, int in, double alpha, boolean[] thirds, Tensor v) {
        AdaptedLinear layer = layer(out, in);
        layer.container(AdapterHubIa3Linear.CONTAINER).registerModule("a", new ModuleDict()).registerParameter(AdapterHubIa3Linear.TENSOR, v);
        layer.add("a", new AdapterHubIa3Linear("a", alpha, thirds));
        return layer;
    }

    /** The merged layer (weight via merge, bias via mergeBias) gives what the adapted one did. */
    private static void assertMergeMatches(AdaptedLinear layer, Tensor x) {
        LinearAdapter a = layer.adapters().get("a");
        try (var s = GradMode.noGrad()) {
            Tensor w = a.merge(layer.base().weight().detachedCopy(layer.base().weight().dtype()), layer);
            Tensor b = a instanceof Ia3Linear p ? p.mergeBias(layer.base().bias(), layer) : ((AdapterHubIa3Linear) a).mergeBias(layer.base().bias(), layer);
            Tensor merged = org.peft4j.ops.Linear.linear(x, w, b);
            assertTrue(GradCheck.relError(merged.doubles(), layer.forward(x).doubles()) < 1e-12);
        }
    }

    @Test
    void feedForwardScalesTheInput() {
        Tensor l = GradCheck.randn(3, 1, 7);
        AdaptedLinear layer = peft(5, 7, true, l);
        Tensor x = GradCheck.randn(4, 2, 3, 7);
        GradCheck.check("ia3 feed-forward", in -> layer.forward(in[0]), x, l);
        Tensor scaled = org.peft4j.ops.Elementwise.mul(x.detach(), l.detach());
        assertTrue(GradCheck.relError(layer.forward(x.detach()).doubles(), layer.base().forward(scaled).doubles()) < 1e-15);
        assertMergeMatches(layer, x.detach());
    }

    @Test
    void otherLayersScaleTheOutputBiasIncluded() {
        Tensor l = GradCheck.randn(3, 5, 1);
        AdaptedLinear layer = peft(5, 7, false, l);
        Tensor x = GradCheck.randn(4, 3, 7);
        GradCheck.check("ia3 output", in -> layer.forward(in[0]), x, l);
        double[] base = layer.base().forward(x.detach()).doubles(), got = layer.forward(x.detach()).doubles();
        for (int i = 0; i < got.length; i++) assertEquals(base[i] * l.getFlat(i % 5), got[i], 1e-12);
        assertMergeMatches(layer, x.detach());
    }

    @Test
    void onesAreANoOp() {
        AdaptedLinear ff = peft(5, 7, true, Tensor.full(org.peft4j.tensor.DType.F64, 1, 1, 7));
        AdaptedLinear out = peft(5, 7, false, Tensor.full(org.peft4j.tensor.DType.F64, 1, 5, 1));
        Tensor x = GradCheck.randn(4, 3, 7).detach();
        for (AdaptedLinear layer : new AdaptedLinear[] {ff, out}) {
            assertEquals(0, GradCheck.relError(layer.forward(x).doubles(), layer.base().forward(x).doubles()));
        }
    }

    @Test
    void adapterHubScalesTheOutputByAlpha() {
        Tensor v = GradCheck.randn(3, 5, 1);
        AdaptedLinear layer = hub(5, 7, 1.5, null, v);
        Tensor x = GradCheck.randn(4, 2, 3, 7);
        GradCheck.check("adapterhub ia3", in -> layer.forward(in[0]), x, v);
        double[] base = layer.base().forward(x.detach()).doubles(), got = layer.forward(x.detach()).doubles();
        for (int i = 0; i < got.length; i++) assertEquals(base[i] * 1.5 * v.getFlat(i % 5), got[i], 1e-12);
        assertMergeMatches(layer, x.detach());
    }

    @Test
    void adapterHubFusedQkvPadsDisabledThirdsWithOnesBeforeAlpha() {
        // GPT-2's c_attn, 3 × 4 outputs, k and v adapted: the vector covers 8 outputs.
        Tensor v = GradCheck.randn(3, 8, 1);
        AdaptedLinear layer = hub(12, 5, 2.0, new boolean[] {false, true, true}, v);
        Tensor x = GradCheck.randn(4, 3, 5);
        GradCheck.check("adapterhub ia3 fused", in -> layer.forward(in[0]), x, v);
        double[] base = layer.base().forward(x.detach()).doubles(), got = layer.forward(x.detach()).doubles();
        for (int i = 0; i < got.length; i++) {
            int j = i % 12;
            double scale = 2.0 * (j < 4 ? 1 : v.getFlat(j - 4));
            assertEquals(base[i] * scale, got[i], 1e-12, "output " + j);
        }
        assertMergeMatches(layer, x.detach());
    }
}
