package org.peft4j.adapters.lokr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Linear;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class LokrLinearTest {
    /** A frozen F64 layer with adapter "a" active; factors shaped as {@link LokrShapes} says, random. */
    static final class Fixture {
        final AdaptedLinear layer;
        final Map<String, Tensor> factors = new LinkedHashMap<>();

        Fixture(LokrShapes shapes, double scaling, double rankDropout, boolean rescale) {
            int out = shapes.outL() * shapes.outK(), in = shapes.inM() * shapes.inN();
            AdapterContext context = new AdapterContext();
            context.setActive(Composition.of("a"));
            layer = new AdaptedLinear(new Linear(GradCheck.randn(1, out, in).detach(), GradCheck.randn(2, out).detach()), context, 0);
            long seed = 3;
            for (Map.Entry<String, int[]> e : shapes.containers().entrySet()) {
                Tensor t = GradCheck.randn(seed++, e.getValue());
                factors.put(e.getKey(), t);
                layer.container(e.getKey()).registerParameter("a", t);
            }
            layer.add("a", new LokrLinear("a", scaling, shapes.fullW1(), shapes.fullW2(), rankDropout, rescale, 0, 9));
        }

        Tensor[] inputs(Tensor x) {
            Tensor[] all = new Tensor[factors.size() + 1];
            all[0] = x;
            int i = 1;
            for (Tensor t : factors.values()) all[i++] = t;
            return all;
        }

        /** base(x) + x·kron(w1, w2)ᵀ·scaling. */
        Tensor expected(Tensor x) {
            try (var s = GradMode.noGrad()) {
                Tensor delta = layer.adapters().get("a").deltaWeight(layer);
                return org.peft4j.ops.Linear.linear(x, Elementwise.add(layer.base().weight(), delta), layer.base().bias());
            }
        }
    }

    @Test
    void gradientsWithFullFactors() {
        Fixture f = new Fixture(new LokrShapes(2, 3, 2, 5, 3, true, true), 0.5, 0, false);
        GradCheck.check("lokr full", in -> f.layer.forward(in[0]), f.inputs(GradCheck.randn(20, 2, 3, 15)));
    }

    @Test
    void gradientsWithBothFactorsDecomposed() {
        Fixture f = new Fixture(new LokrShapes(2, 4, 3, 2, 5, false, false), 1.25, 0, false);
        GradCheck.check("lokr decomposed", in -> f.layer.forward(in[0]), f.inputs(GradCheck.randn(20, 4, 10)));
    }

    @Test
    void forwardEqualsKroneckerWeight() {
        for (LokrShapes s : new LokrShapes[] {new LokrShapes(2, 3, 2, 5, 3, true, false), new LokrShapes(1, 1, 7, 3, 1, false, true)}) {
            Fixture f = new Fixture(s, 0.8, 0, false);
            Tensor x = GradCheck.randn(21, 2, 3, f.layer.inFeatures()).detach();
            assertTrue(GradCheck.relError(f.layer.forward(x).doubles(), f.expected(x).doubles()) < 1e-12);
        }
    }

    @Test
    void rankDropoutWithoutRescalingLeavesKeptRowsUnchanged() {
        Fixture f = new Fixture(new LokrShapes(2, 6, 5, 2, 3, true, true), 1, 0.5, false);
        Tensor x = GradCheck.randn(22, 4, 6).detach();
        Tensor base = f.layer.base().forward(x);
        double[] full = Elementwise.sub(f.expected(x), base).doubles();
        f.layer.train(true);
        double[] dropped = Elementwise.sub(f.layer.forward(x), base).doubles();
        int out = 30, kept = 0;
        for (int j = 0; j < out; j++) {
            boolean keep = Math.abs(dropped[j]) > 0;
            if (keep) kept++;
            for (int row = 0; row < 4; row++) {
                assertEquals(keep ? full[row * out + j] : 0, dropped[row * out + j], 1e-12, "row " + row + " feature " + j);
            }
        }
        assertTrue(kept > 0 && kept < out, "kept " + kept);
    }
}
