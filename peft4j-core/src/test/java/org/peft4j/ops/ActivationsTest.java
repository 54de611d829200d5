package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.ops.ElementwiseTest.f64;
import static org.peft4j.ops.ElementwiseTest.randnF32;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class ActivationsTest {
    static final Map<String, UnaryOperator<Tensor>> OPS = new LinkedHashMap<>();

    static {
        OPS.put("relu", Activations::relu);
        OPS.put("leakyRelu", Activations::leakyRelu);
        OPS.put("leakyRelu(0.2)", x -> Activations.leakyRelu(x, 0.2));
        OPS.put("gelu", Activations::gelu);
        OPS.put("geluTanh", Activations::geluTanh);
        OPS.put("silu", Activations::silu);
        OPS.put("quickGelu", Activations::quickGelu);
        OPS.put("tanh", Activations::tanh);
        OPS.put("sigmoid", Activations::sigmoid);
    }

    /** Normal values scaled by 3, pushed at least 0.05 away from the kink at 0. */
    static Tensor awayFromZero(long seed, int... shape) {
        Tensor t = GradCheck.randn(seed, shape);
        for (int i = 0; i < t.numel(); i++) {
            double v = 3 * t.getFlat(i);
            t.setFlat(i, Math.abs(v) < 0.05 ? Math.copySign(0.05 + Math.abs(v), v) : v);
        }
        return t;
    }

    @Test
    void gradients() {
        for (int[] shape : new int[][] {{1}, {3, 5}, {2, 1, 7}, {17}}) {
            OPS.forEach((name, op) -> GradCheck.check(name, in -> op.apply(in[0]), awayFromZero(1, shape)));
        }
    }

    @Test
    void fusedBiasActivationGradients() {
        for (String name : new String[] {"relu", "gelu", "gelu_new", "silu", "quick_gelu", "tanh", "sigmoid", "leakyrelu", "linear"}) {
            GradCheck.check("addBiasAct " + name, in -> Activations.addBiasAct(in[0], in[1], name),
                    awayFromZero(2, 2, 3, 7), GradCheck.randn(3, 7));
            Tensor frozenBias = GradCheck.randn(4, 7).detach();
            GradCheck.check("addBiasAct frozen bias " + name, in -> Activations.addBiasAct(in[0], in[1], name),
                    awayFromZero(5, 3, 7), frozenBias);
            assertNull(frozenBias.grad());
        }
    }

    @Test
    void fusedBiasActivationEqualsUnfused() {
        Tensor x = randnF32(6, 2, 0, 37, 129), b = randnF32(7, 1, 0, 129);
        for (String name : new String[] {"relu", "gelu", "gelu_new", "swish", "quick_gelu", "tanh", "sigmoid", "leaky_relu"}) {
            double[] fused = Activations.addBiasAct(x, b, name).toDoubleArray();
            double[] unfused = Activations.byName(name).apply(Elementwise.add(x, b)).toDoubleArray();
            assertTrue(GradCheck.relError(fused, unfused) == 0, name);
        }
        assertThrows(IllegalArgumentException.class, () -> Activations.addBiasAct(x, Tensor.zeros(128), "relu"));
    }

    @Test
    void float32MatchesFloat64ForwardAndBackward() {
        Tensor x = randnF32(11, 3, 0, 37, 129);
        Tensor g = randnF32(12, 1, 0, 37, 129);
        OPS.forEach((name, op) -> {
            double err = GradCheck.relError(op.apply(x).toDoubleArray(), op.apply(f64(x)).toDoubleArray());
            assertTrue(err < 1e-6, name + " forward rel error " + err);
            Tensor x32 = x.detachedCopy(x.dtype()).requiresGrad(true);
            Tensor x64 = f64(x).requiresGrad(true);
            Autograd.backward(op.apply(x32), g);
            Autograd.backward(op.apply(x64), f64(g));
            double gerr = GradCheck.relError(x32.grad().toDoubleArray(), x64.grad().toDoubleArray());
            assertTrue(gerr < 1e-6, name + " backward rel error " + gerr);
        });
    }

    @Test
    void float32GeluIsAccurateElementByElementIncludingTheTail() {
        int n = 4001;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (-9 + 18.0 * i / (n - 1));
        Tensor x = Tensor.of(v, n);
        double[] f32 = Activations.gelu(x).toDoubleArray(), ref = Activations.gelu(f64(x)).toDoubleArray();
        for (int i = 0; i < n; i++) {
            assertEquals(ref[i], f32[i], 1e-6 * Math.abs(ref[i]) + 1e-37, "gelu(" + v[i] + ")");
        }
        Tensor xg = x.detachedCopy(x.dtype()).requiresGrad(true), x64 = f64(x).requiresGrad(true);
        Autograd.backward(Reductions.sum(Activations.gelu(xg)));
        Autograd.backward(Reductions.sum(Activations.gelu(x64)));
        for (int i = 0; i < n; i++) {
            double r = x64.grad().getFlat(i);
            assertEquals(r, xg.grad().getFlat(i), 2e-6 * Math.abs(r) + 1e-7, "gelu'(" + v[i] + ")");
        }
    }

    @Test
    void formulas() {
        Map<String, DoubleUnaryOperator> expected = new LinkedHashMap<>();
        expected.put("relu", v -> Math.max(v, 0));
        expected.put("leakyRelu", v -> v > 0 ? v : 0.01 * v);
        expected.put("gelu", v -> 0.5 * v * (1 + Activations.erf(v / Math.sqrt(2))));
        expected.put("geluTanh", v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))));
        expected.put("silu", v -> v / (1 + Math.exp(-v)));
        expected.put("quickGelu", v -> v / (1 + Math.exp(-1.702 * v)));
        expected.put("tanh", Math::tanh);
        expected.put("sigmoid", v -> 1 / (1 + Math.exp(-v)));
        Tensor x = awayFromZero(21, 50).detach();
        expected.forEach((name, f) -> {
            Tensor y = OPS.get(name).apply(x);
            for (int i = 0; i < 50; i++) assertEquals(f.applyAsDouble(x.getFlat(i)), y.getFlat(i), 1e-14, name);
        });
        assertEquals(0.8413447460685429 * 1, Activations.gelu(Tensor.of(new double[] {1}, 1)).item(), 1e-15);
    }

    @Test
    void erfMatchesKnownValues() {
        double[][] erf = {
            {1e-8, 1.1283791670955125363e-8}, {0.1, 0.1124629160182848922}, {0.5, 0.52049987781304653768},
            {1, 0.84270079294971486934}, {1.4999, 0.96609325166229526931}, {1.5001, 0.96611703772041749919},
            {2, 0.99532226501895273416}, {3.5, 0.99999925690162765859}, {6, 0.99999999999999997848},
            {-0.7, -0.67780119383741847298}, {0, 0}};
        for (double[] c : erf) assertEquals(c[1], Activations.erf(c[0]), 2e-16 + 1e-15 * Math.abs(c[1]), "erf(" + c[0] + ")");
        double[][] erfc = {
            {-3, 1.9999779095030014146}, {0.25, 0.72367360983176306701}, {1.5, 0.033894853524689272933},
            {2.5, 0.00040695201744495893956}, {5, 1.5374597944280348502e-12}, {10, 2.088487583762544757e-45},
            {26, 5.6631924088561428465e-296}};
        for (double[] c : erfc) assertEquals(c[1], Activations.erfc(c[0]), 1e-14 * Math.abs(c[1]), "erfc(" + c[0] + ")");
    }

    @Test
    void namesFromConfigs() {
        Tensor x = awayFromZero(31, 9).detach();
        String[] names = {"relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_python", "gelu_accurate",
            "silu", "swish", "tanh", "sigmoid", "leakyrelu", "leaky_relu", "quick_gelu", "linear", "identity", "GELU"};
        for (String name : names) assertEquals(9, Activations.byName(name).apply(x).numel(), name);
        assertEquals(0, GradCheck.relError(Activations.byName("swish").apply(x).toDoubleArray(),
                Activations.silu(x).toDoubleArray()));
        assertEquals(0, GradCheck.relError(Activations.byName("gelu_pytorch_tanh").apply(x).toDoubleArray(),
                Activations.geluTanh(x).toDoubleArray()));
        assertSame(x, Activations.byName("linear").apply(x));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Activations.byName("mish2"));
        assertTrue(e.getMessage().contains("mish2") && e.getMessage().contains("gelu_new"), e.getMessage());
    }

    @Test
    void extremeInputsSaturateWithoutNaN() {
        float[] v = {-1e30f, -200, -90, -20, 20, 90, 200, 1e30f};
        Tensor x = Tensor.of(v, v.length);
        for (String name : new String[] {"gelu", "geluTanh", "silu", "quickGelu", "tanh", "sigmoid"}) {
            Tensor y = OPS.get(name).apply(x);
            for (int i = 0; i < v.length; i++) assertTrue(Double.isFinite(y.getFlat(i)), name + "(" + v[i] + ") = " + y.getFlat(i));
        }
        assertEquals(0, Activations.gelu(x).getFlat(0), 0);
        assertEquals(1e30f, Activations.gelu(x).getFlat(7));
    }
}
