package org.peft4j.adapters.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.autograd.Autograd;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Linear;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.MatMul;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/** The LoRA/DoRA layer alone: no-op start, gradients in float64, dropout, scaling, merging. */
class LoraLayerTest {
    private static final int IN = 5, OUT = 7, R = 3;

    /** A float64 linear layer [OUT, IN] with bias wrapped for adapters, adapter "a" active. */
    private static AdaptedLinear layer(boolean conv1d, long seed) {
        AdapterContext ctx = new AdapterContext();
        ctx.setActive(Composition.of("a"));
        Tensor w = GradCheck.randn(seed, conv1d ? new int[] {IN, OUT} : new int[] {OUT, IN}).detach();
        Tensor b = GradCheck.randn(seed + 1, OUT).detach();
        return new AdaptedLinear(conv1d ? new Conv1D(w, b) : new Linear(w, b), ctx, 0);
    }

    private static LoraLayer attach(AdaptedLinear al, double scaling, double dropout, boolean dora, boolean gated, LoraInit init) {
        return LoraLayer.attach(al, "a", R, scaling, dropout, dora, gated, init, new SplittableRandom(7));
    }

    private static Tensor input(long seed) { return GradCheck.randn(seed, 2, 4, IN); }

    private static Tensor baseOutput(AdaptedLinear al, Tensor x) {
        return al.run(x, java.util.List.of());
    }

    @Test
    void freshLoraAndDoraLeaveTheOutputExactlyUnchanged() {
        for (boolean dora : new boolean[] {false, true}) {
            for (boolean conv1d : new boolean[] {false, true}) {
                AdaptedLinear al = layer(conv1d, 1);
                attach(al, 2.0, 0, dora, false, LoraInit.KAIMING);
                Tensor x = input(3).detach();
                Tensor base = baseOutput(al, x), adapted = al.forward(x);
                for (long i = 0; i < base.numel(); i++) {
                    // DoRA's factor m/‖W‖ is 1 up to rounding, so it may move the last bit
                    double tol = dora ? 1e-12 * Math.abs(base.getFlat(i)) : 0;
                    assertEquals(base.getFlat(i), adapted.getFlat(i), tol, "dora=" + dora + " conv1d=" + conv1d);
                }
            }
        }
    }

    @Test
    void float32LoraStartsAsAnExactNoOp() {
        AdapterContext ctx = new AdapterContext();
        ctx.setActive(Composition.of("a"));
        Tensor w = GradCheck.randn(1, OUT, IN).detach().to(DType.F32), b = GradCheck.randn(2, OUT).detach().to(DType.F32);
        AdaptedLinear al = new AdaptedLinear(new Linear(w, b), ctx, 0);
        LoraLayer lora = LoraLayer.attach(al, "a", R, 4.0, 0, false, false, LoraInit.KAIMING, new SplittableRandom(1));
        Tensor x = input(3).detach().to(DType.F32);
        Tensor out = baseOutput(al, x);
        assertArrayEquals(out.toFloatArray(), lora.transformOutput(x, out, al).toFloatArray(), "the branch adds exactly zero");
    }

    @Test
    void kaimingInitBoundsAAndZerosB() {
        AdaptedLinear al = layer(false, 1);
        LoraLayer lora = attach(al, 1, 0, false, false, LoraInit.KAIMING);
        Tensor a = lora.loraA(al), b = lora.loraB(al);
        assertArrayEquals(new int[] {R, IN}, a.shape());
        assertArrayEquals(new int[] {OUT, R}, b.shape());
        double bound = 1 / Math.sqrt(IN), max = 0;
        for (long i = 0; i < a.numel(); i++) max = Math.max(max, Math.abs(a.getFlat(i)));
        assertTrue(max > 0 && max <= bound);
        for (long i = 0; i < b.numel(); i++) assertEquals(0, b.getFlat(i));
        assertTrue(a.requiresGrad() && b.requiresGrad());
    }

    @Test
    void gradientsOfLoraInFloat64() {
        for (boolean conv1d : new boolean[] {false, true}) {
            AdaptedLinear al = layer(conv1d, 11);
            LoraLayer lora = attach(al, 1.7, 0, false, false, LoraInit.RANDOM);
            al.base().bias().requiresGrad(true);
            GradCheck.check("lora conv1d=" + conv1d, in -> al.forward(in[0]), input(5), lora.loraA(al), lora.loraB(al), al.base().bias());
        }
    }

    @Test
    void gradientsOfDoraMagnitudeAndInputInFloat64() {
        for (boolean conv1d : new boolean[] {false, true}) {
            AdaptedLinear al = layer(conv1d, 21);
            LoraLayer lora = attach(al, 0.8, 0, true, false, LoraInit.RANDOM);
            perturb(lora.magnitude(al), 0.3);
            al.base().bias().requiresGrad(true);
            // the row norms do not depend on x, m or the bias, so finite differences see the same function
            GradCheck.check("dora conv1d=" + conv1d, in -> al.forward(in[0]), input(6), lora.magnitude(al), al.base().bias());
        }
    }

    /**
     * DoRA treats ‖W + s·B·A‖ as a constant (PEFT, DoRA paper §4.3): the gradients of A and B are those of
     * the output with the norms frozen at their current value, checked here by finite differences of
     * that frozen-norm function.
     */
    @Test
    void doraGradientsOfAAndBHoldTheNormConstant() {
        AdaptedLinear al = layer(false, 31);
        LoraLayer lora = attach(al, 0.9, 0, true, false, LoraInit.RANDOM);
        perturb(lora.magnitude(al), 0.2);
        Tensor x = input(7).detach();
        Tensor a = lora.loraA(al), b = lora.loraB(al), m = lora.magnitude(al).detach();
        Tensor norm = lora.weightNorm(al.base().weightOutIn(), al);
        Tensor weights = GradCheck.randn(99, 2, 4, OUT).detach();
        a.zeroGrad();
        b.zeroGrad();
        Autograd.backward(al.forward(x), weights);
        for (Tensor p : new Tensor[] {a, b}) {
            Tensor analytic = p.grad();
            for (long i = 0; i < p.numel(); i++) {
                double v = p.getFlat(i), eps = 1e-6;
                p.setFlat(i, v + eps);
                double plus = frozenNormDora(al, x, a, b, m, norm, 0.9, weights);
                p.setFlat(i, v - eps);
                double minus = frozenNormDora(al, x, a, b, m, norm, 0.9, weights);
                p.setFlat(i, v);
                double numeric = (plus - minus) / (2 * eps);
                assertEquals(numeric, analytic.getFlat(i), 1e-6 * Math.max(1, Math.abs(numeric)));
            }
        }
    }

    /** sum(weights · (Wx + b + (m/n − 1)·Wx + (m/n)·s·B·A·x)) with n fixed. */
    private static double frozenNormDora(AdaptedLinear al, Tensor x, Tensor a, Tensor b, Tensor m, Tensor norm, double s, Tensor weights) {
        try (var g = GradMode.noGrad()) {
            Tensor wx = org.peft4j.ops.Linear.linear(x, al.base().weightOutIn(), null);
            Tensor factor = Elementwise.div(m, norm);
            Tensor lora = Elementwise.scale(org.peft4j.ops.Linear.linear(org.peft4j.ops.Linear.linear(x, a, null), b, null), s);
            Tensor y = Elementwise.add(Elementwise.add(wx, al.base().bias()),
                    Elementwise.add(Elementwise.mul(wx, Elementwise.addScalar(factor, -1)), Elementwise.mul(lora, factor)));
            double sum = 0;
            for (long i = 0; i < y.numel(); i++) sum += y.getFlat(i) * weights.getFlat(i);
            return sum;
        }
    }

    @Test
    void gradientsOfTheGatedBranchInFloat64() {
        AdaptedLinear al = layer(false, 41);
        LoraLayer lora = attach(al, 1, 0, false, true, LoraInit.RANDOM);
        Linear gate = al.container(LoraLayer.GATE).child("a");
        perturb(gate.weight(), 0.5);
        GradCheck.check("gated lora", in -> al.forward(in[0]), input(8), lora.loraA(al), lora.loraB(al), gate.weight(), gate.bias());
    }

    @Test
    void rsLoraScalesByAlphaOverRootR() {
        LoraConfig plain = LoraConfig.parse(args("r=4,alpha=16"));
        LoraConfig rs = LoraConfig.parse(args("r=4,alpha=16,use_rslora=true"));
        assertEquals(4.0, plain.scalingFor("x.query"));
        assertEquals(8.0, rs.scalingFor("x.query"));
        // and the layer applies the scaling it was given: branch(s) = s · branch(1)
        AdaptedLinear one = layer(false, 51), eight = layer(false, 51);
        attach(one, 1, 0, false, false, LoraInit.RANDOM);
        attach(eight, 8, 0, false, false, LoraInit.RANDOM);
        Tensor x = input(9).detach();
        Tensor base = baseOutput(one, x);
        Tensor d1 = Elementwise.sub(one.forward(x), base), d8 = Elementwise.sub(eight.forward(x), base);
        for (long i = 0; i < d1.numel(); i++) assertEquals(8 * d1.getFlat(i), d8.getFlat(i), 1e-12);
    }

    @Test
    void dropoutActsOnlyInTrainingAndIsSeeded() {
        AdaptedLinear al = layer(false, 61), twin = layer(false, 61), plain = layer(false, 61);
        attach(al, 1, 0.5, false, false, LoraInit.RANDOM);
        attach(twin, 1, 0.5, false, false, LoraInit.RANDOM);
        attach(plain, 1, 0, false, false, LoraInit.RANDOM);
        Tensor x = input(10).detach();
        assertArrayEquals(plain.forward(x).toDoubleArray(), al.forward(x).toDoubleArray(), "no dropout at inference");
        al.train(true);
        twin.train(true);
        double[] trained = al.forward(x).toDoubleArray();
        assertArrayEquals(twin.forward(x).toDoubleArray(), trained, "same seed, same mask");
        assertFalse(java.util.Arrays.equals(plain.forward(x).toDoubleArray(), trained), "training drops inputs of the branch");
        // the base output never sees dropout: with B = 0 the branch vanishes and so does any difference
        AdaptedLinear zeroB = layer(false, 61);
        attach(zeroB, 1, 0.5, false, false, LoraInit.KAIMING);
        zeroB.train(true);
        assertArrayEquals(baseOutput(zeroB, x).toDoubleArray(), zeroB.forward(x).toDoubleArray());
    }

    @Test
    void doraWithDropoutRecomputesTheBaseOnTheDroppedInput() {
        AdaptedLinear al = layer(false, 71);
        LoraLayer lora = attach(al, 1, 0.4, true, false, LoraInit.RANDOM);
        perturb(lora.magnitude(al), 0.3);
        al.train(true);
        Tensor x = input(11).detach();
        Tensor y = al.forward(x); // runs the dropout branch of DoRA
        assertArrayEquals(new int[] {2, 4, OUT}, y.shape());
        al.train(false);
        Tensor merged = LoraMerge.mergedWeight(al, lora);
        Tensor expect = org.peft4j.ops.Linear.linear(x, merged, al.base().bias());
        assertClose(expect, al.forward(x), 1e-12);
    }

    @Test
    void mergedWeightsReproduceTheAdaptedOutput() {
        for (boolean dora : new boolean[] {false, true}) {
            for (boolean conv1d : new boolean[] {false, true}) {
                AdaptedLinear al = layer(conv1d, 81);
                LoraLayer lora = attach(al, 1.3, 0, dora, false, LoraInit.RANDOM);
                if (dora) perturb(lora.magnitude(al), 0.25);
                Tensor x = input(12).detach();
                Tensor adapted = al.forward(x);
                Tensor merged = LoraMerge.mergedWeight(al, lora);
                assertArrayEquals(al.base().weight().shape(), merged.shape());
                Tensor outIn = conv1d ? merged.transpose(0, 1) : merged;
                assertClose(adapted, org.peft4j.ops.Linear.linear(x, outIn, al.base().bias()), 1e-12);
                // deltaWeight is the same change expressed as W' − W
                Tensor delta = lora.deltaWeight(al);
                assertClose(Elementwise.sub(outIn, al.base().weightOutIn()), delta, 1e-12);
            }
        }
    }

    @Test
    void loraDeltaIsScaledBA() {
        AdaptedLinear al = layer(false, 91);
        LoraLayer lora = attach(al, 2.5, 0, false, false, LoraInit.RANDOM);
        Tensor expect = Elementwise.scale(MatMul.matmul(lora.loraB(al), lora.loraA(al)), 2.5);
        assertClose(expect, lora.deltaWeight(al), 1e-14);
        assertArrayEquals(new int[] {OUT, IN}, lora.deltaWeight(al).shape());
    }

    @Test
    void gatedLoraCannotBeMerged() {
        AdaptedLinear al = layer(false, 92);
        LoraLayer lora = attach(al, 1, 0, false, true, LoraInit.RANDOM);
        assertNull(lora.deltaWeight(al));
        assertThrows(UnsupportedOperationException.class, () -> LoraMerge.mergedWeight(al, lora));
    }

    // ------------------------------------------------------------------ helpers

    static org.peft4j.adapters.ConfigArgs args(String body) {
        return new org.peft4j.adapters.ConfigArgs("lora", org.peft4j.adapters.MethodSpec.parse("lora[" + body + "]").get(0).args());
    }

    private static void perturb(Tensor t, double amount) {
        SplittableRandom r = new SplittableRandom(5);
        for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) * (1 + amount * r.nextDouble(-1, 1)));
    }

    static void assertClose(Tensor want, Tensor got, double rel) {
        assertArrayEquals(want.shape(), got.shape());
        double num = 0, den = 0;
        for (long i = 0; i < want.numel(); i++) {
            num = Math.max(num, Math.abs(want.getFlat(i) - got.getFlat(i)));
            den = Math.max(den, Math.abs(want.getFlat(i)));
        }
        assertTrue(num <= rel * Math.max(den, 1e-30), "relative error " + num / den);
    }
}
