package org.peft4j.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsFile;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class AdamWTest {
    static final double[][] GRADS = {{0.5, -1.0}, {0.1, 0.2}, {-0.3, 0.4}};

    @TempDir
    Path dir;

    static Tensor param(double... values) { return Tensor.of(values.clone(), values.length).requiresGrad(true); }

    static Tensor param(float... values) { return Tensor.of(values.clone(), values.length).requiresGrad(true); }

    static void setGrad(Tensor p, double... g) {
        p.zeroGrad();
        Tensor grad = Tensor.zeros(p.computeType(), p.shape());
        for (int i = 0; i < g.length; i++) grad.setFlat(i, g[i]);
        p.accumulateGrad(grad);
    }

    static ParamGroup group(String name, Tensor p, double lr, double wd) {
        return new ParamGroup(Map.of(name, p), lr, wd);
    }

    /**
     * lr 0.1, weight decay 0.01, β = (0.9, 0.999), ε = 1e-8, p = [1, -2].
     *
     * <p>Step 1, g = [0.5, -1]: p·(1 − 0.1·0.01) = [0.999, −1.998]; m = 0.1·g = [0.05, −0.1];
     * v = 0.001·g² = [0.00025, 0.001]; bias corrections 1 − 0.9 = 0.1 and 1 − 0.999 = 0.001, so
     * m̂ = [0.5, −1], √v̂ = [0.5, 1]; p −= 0.1 · m̂ / (√v̂ + 1e-8) = 0.1·[0.99999998, −0.99999999]
     * → p = [0.899000002, −1.898000001].
     *
     * <p>Step 2, g = [0.1, 0.2]: p·0.999; m = 0.9·m + 0.1·g = [0.055, −0.07];
     * v = 0.999·v + 0.001·g² = [0.00025975, 0.001039]; corrections 1 − 0.9² = 0.19, 1 − 0.999² = 0.001999;
     * p −= 0.1·(m/0.19) / (√(v/0.001999) + ε) → [0.8177969063826517, −1.8449993939894944].
     *
     * <p>Step 3, g = [−0.3, 0.4]: m = [0.0195, −0.023], v = [0.00034949025, 0.001197961], corrections
     * 0.271 and 0.002997001 → [0.7959078148551253, −1.8297304348131664].
     */
    @Test
    void threeStepsMatchHandComputation() {
        double[][] expected = {
                {0.899000002, -1.898000001},
                {0.8177969063826517, -1.8449993939894944},
                {0.7959078148551253, -1.8297304348131664}};
        Tensor p64 = param(1.0, -2.0);
        Tensor p32 = param(1f, -2f);
        AdamW opt64 = new AdamW(List.of(group("w", p64, 0.1, 0.01)));
        AdamW opt32 = new AdamW(List.of(group("w", p32, 0.1, 0.01)));
        for (int t = 0; t < 3; t++) {
            setGrad(p64, GRADS[t]);
            setGrad(p32, GRADS[t]);
            opt64.step();
            opt32.step();
            assertArrayEquals(expected[t], p64.toDoubleArray(), 1e-12, "F64 after step " + (t + 1));
            assertArrayEquals(expected[t], p32.toDoubleArray(), 2e-6, "F32 after step " + (t + 1));
        }
        assertEquals(3, opt64.stepCount());
        Map<String, Tensor> state = opt64.exportState().tensors();
        assertArrayEquals(new double[] {0.0195, -0.023}, state.get("w.exp_avg").toDoubleArray(), 1e-15);
        assertArrayEquals(new double[] {0.00034949025, 0.001197961}, state.get("w.exp_avg_sq").toDoubleArray(), 1e-15);
        assertEquals(3L, state.get("w.step").getLong());
    }

    @Test
    void groupsUseTheirOwnLrAndDecay() {
        // On a first step m̂/√v̂ = sign(g) up to ε, so each update is just −lr·sign(g) after the decay.
        Tensor a = param(1.0, 1.0), b = param(1.0, 1.0);
        AdamW opt = new AdamW(List.of(group("a", a, 0.1, 0.0), group("b", b, 0.01, 0.5)));
        setGrad(a, 2.0, -3.0);
        setGrad(b, 2.0, -3.0);
        opt.step();
        assertArrayEquals(new double[] {0.9, 1.1}, a.toDoubleArray(), 1e-7);
        assertArrayEquals(new double[] {0.995 - 0.01, 0.995 + 0.01}, b.toDoubleArray(), 1e-7);
        assertEquals(0.1, opt.currentLr(0));
        assertEquals(0.01, opt.currentLr(1));
    }

    @Test
    void parametersWithoutGradientAreSkippedAndKeepTheirOwnStepCount() {
        Tensor a = param(1.0, -2.0), late = param(5.0, 5.0);
        AdamW opt = new AdamW(List.of(new ParamGroup(orderedMap("a", a, "late", late), 0.1, 0.01)));
        setGrad(a, GRADS[0]);
        opt.step();
        assertArrayEquals(new double[] {5, 5}, late.toDoubleArray(), "no gradient: no decay either");
        assertTrue(!opt.exportState().tensors().containsKey("late.exp_avg"));
        // Its first update, at optimizer step 2, uses bias correction t = 1 like any first update.
        a.zeroGrad();
        setGrad(late, 0.5, -1.0);
        opt.step();
        Tensor reference = param(5.0, 5.0);
        AdamW fresh = new AdamW(List.of(group("r", reference, 0.1, 0.01)));
        setGrad(reference, 0.5, -1.0);
        fresh.step();
        assertArrayEquals(reference.toDoubleArray(), late.toDoubleArray(), 0);
        assertEquals(1L, opt.exportState().tensors().get("late.step").getLong());
        assertEquals(1L, opt.exportState().tensors().get("a.step").getLong());
    }

    @Test
    void scheduleMultipliesBaseLr() {
        Tensor p = param(1.0, -2.0);
        AdamW opt = new AdamW(List.of(group("w", p, 0.1, 0.01)));
        opt.setSchedule(LrSchedule.linearWithWarmup(2, 10));
        assertEquals(0.0, opt.currentLr(0));
        setGrad(p, GRADS[0]);
        opt.step(); // multiplier 0: nothing moves, but the moments are updated
        assertArrayEquals(new double[] {1.0, -2.0}, p.toDoubleArray());
        assertEquals(0.05, opt.currentLr(0), 1e-15);
        setGrad(p, GRADS[1]);
        opt.step(); // lr 0.05, second update of this parameter
        double[] m = {0.9 * 0.05 + 0.1 * 0.1, 0.9 * -0.1 + 0.1 * 0.2};
        double[] v = {0.999 * 0.00025 + 0.001 * 0.01, 0.999 * 0.001 + 0.001 * 0.04};
        double[] start = {1.0, -2.0};
        for (int i = 0; i < 2; i++) {
            double expected = start[i] * (1 - 0.05 * 0.01)
                    - 0.05 / 0.19 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 * 0.999) + 1e-8);
            assertEquals(expected, p.toDoubleArray()[i], 1e-12);
        }
    }

    @Test
    void floatPathAgreesWithDoublePathOnLargeParameters() {
        int n = 100_003; // several parallel chunks, odd size
        Random rnd = new Random(7);
        float[] init = new float[n];
        for (int i = 0; i < n; i++) init[i] = (float) rnd.nextGaussian();
        Tensor p32 = Tensor.of(init.clone(), n).requiresGrad(true);
        Tensor p64 = Tensor.of(init.clone(), n).to(DType.F64).requiresGrad(true);
        AdamW o32 = new AdamW(List.of(group("w", p32, 1e-2, 0.1)));
        AdamW o64 = new AdamW(List.of(group("w", p64, 1e-2, 0.1)));
        for (int t = 0; t < 4; t++) {
            double[] g = new double[n];
            for (int i = 0; i < n; i++) g[i] = (float) rnd.nextGaussian();
            setGrad(p32, g);
            setGrad(p64, g);
            o32.step();
            o64.step();
        }
        float[] a = p32.heapFloats();
        double[] b = p64.heapDoubles();
        for (int i = 0; i < n; i++) assertEquals(b[i], a[i], 1e-5 * Math.max(1, Math.abs(b[i])), "element " + i);
    }

    @Test
    void exportedStateResumesIdenticallyThroughASafetensorsFile() throws IOException {
        Random rnd = new Random(3);
        float[] w0 = new float[37], b0 = new float[5];
        for (int i = 0; i < w0.length; i++) w0[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < b0.length; i++) b0[i] = (float) rnd.nextGaussian();
        float[][][] grads = new float[6][][];
        for (int t = 0; t < 6; t++) {
            grads[t] = new float[][] {new float[37], new float[5]};
            for (float[] g : grads[t]) for (int i = 0; i < g.length; i++) g[i] = (float) rnd.nextGaussian();
        }
        Tensor w = Tensor.of(w0.clone(), 37).requiresGrad(true), b = Tensor.of(b0.clone(), 5).requiresGrad(true);
        AdamW opt = new AdamW(List.of(group("layer.weight", w, 1e-2, 0.01), group("layer.bias", b, 1e-2, 0)));
        opt.setSchedule(LrSchedule.cosineWithWarmup(2, 6));
        for (int t = 0; t < 3; t++) stepWith(opt, w, b, grads[t]);

        Path file = dir.resolve("optimizer.safetensors");
        OptimizerState saved = opt.exportState();
        Safetensors.write(file, saved.tensors(), Map.of("step", Long.toString(saved.step())));
        float[] wMid = w.toFloatArray(), bMid = b.toFloatArray();
        for (int t = 3; t < 6; t++) stepWith(opt, w, b, grads[t]);

        Tensor w2 = Tensor.of(wMid, 37).requiresGrad(true), b2 = Tensor.of(bMid, 5).requiresGrad(true);
        AdamW resumed = new AdamW(List.of(group("layer.weight", w2, 1e-2, 0.01), group("layer.bias", b2, 1e-2, 0)));
        resumed.setSchedule(LrSchedule.cosineWithWarmup(2, 6));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            resumed.importState(new OptimizerState(Long.parseLong(f.metadata().get("step")), f.tensors()));
        }
        assertEquals(3, resumed.stepCount());
        for (int t = 3; t < 6; t++) stepWith(resumed, w2, b2, grads[t]);
        assertArrayEquals(w.toFloatArray(), w2.toFloatArray(), 0f);
        assertArrayEquals(b.toFloatArray(), b2.toFloatArray(), 0f);
    }

    private static void stepWith(Optimizer opt, Tensor w, Tensor b, float[][] g) {
        opt.zeroGrad();
        assertNull(w.grad());
        w.accumulateGrad(Tensor.of(g[0].clone(), g[0].length));
        b.accumulateGrad(Tensor.of(g[1].clone(), g[1].length));
        opt.step();
    }

    @Test
    void importValidatesBeforeChangingAnything() {
        Tensor p = param(1.0, -2.0);
        AdamW opt = new AdamW(List.of(group("w", p, 0.1, 0.01)));
        setGrad(p, GRADS[0]);
        opt.step();
        OptimizerState good = opt.exportState();

        Map<String, Tensor> unknown = new HashMap<>(good.tensors());
        unknown.put("v.exp_avg", Tensor.zeros(DType.F64, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> opt.importState(new OptimizerState(1, unknown)));
        assertTrue(e.getMessage().contains("'v.exp_avg'"), e.getMessage());

        Map<String, Tensor> wrongShape = new HashMap<>(good.tensors());
        wrongShape.put("w.exp_avg", Tensor.zeros(DType.F64, 3));
        e = assertThrows(IllegalArgumentException.class, () -> opt.importState(new OptimizerState(1, wrongShape)));
        assertTrue(e.getMessage().contains("'w.exp_avg'") && e.getMessage().contains("[3]"), e.getMessage());

        Map<String, Tensor> missing = new HashMap<>(good.tensors());
        missing.remove("w.exp_avg_sq");
        e = assertThrows(IllegalArgumentException.class, () -> opt.importState(new OptimizerState(1, missing)));
        assertTrue(e.getMessage().contains("lacks 'w.exp_avg_sq'"), e.getMessage());

        assertEquals(good.tensors().keySet(), opt.exportState().tensors().keySet());
        assertEquals(1, opt.stepCount());
        opt.importState(new OptimizerState(0, Map.of()));
        assertTrue(opt.exportState().tensors().isEmpty());
    }

    @Test
    void rejectsInvalidParameterSets() {
        Tensor p = param(1.0);
        assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(group("a", p, 0.1, 0), group("b", p, 0.1, 0))));
        assertThrows(IllegalArgumentException.class,
                () -> new AdamW(List.of(group("a", p, 0.1, 0), group("a", param(2.0), 0.1, 0))));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> group("emb", Tensor.zeros(DType.BF16, 2), 0.1, 0));
        assertTrue(e.getMessage().contains("'emb'") && e.getMessage().contains("BF16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> group("a", p, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(group("a", p, 0.1, 0)), 1.0, 0.999, 1e-8));
    }

    static Map<String, Tensor> orderedMap(String k1, Tensor v1, String k2, Tensor v2) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }
}
