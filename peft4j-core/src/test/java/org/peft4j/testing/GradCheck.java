package org.peft4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import java.util.function.Function;
import org.peft4j.autograd.Autograd;
import org.peft4j.autograd.GradMode;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Checks an op's hand-written backward against central finite differences in float64: for random
 * weights w, the analytic gradient of sum(f(x) * w) must equal (L(x + eps) - L(x - eps)) / 2eps
 * for every element of every input that requires a gradient.
 */
public final class GradCheck {
    private static final double EPS = 1e-6;
    /** Central differences in float64 at this step are accurate to ~1e-9; 1e-6 leaves room, nothing more. */
    private static final double TOL = 1e-6;

    private GradCheck() {}

    /** A float64 tensor of standard normal values that requires a gradient. */
    public static Tensor randn(long seed, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
        return Tensor.of(v, shape).requiresGrad(true);
    }

    /** A float64 tensor of uniform values in [lo, hi) that requires a gradient. */
    public static Tensor uniform(long seed, double lo, double hi, int... shape) {
        Random r = new Random(seed);
        double[] v = new double[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextDouble();
        return Tensor.of(v, shape).requiresGrad(true);
    }

    /** Runs the check; inputs that require a gradient are checked, the others are held fixed. */
    public static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        for (Tensor t : inputs) {
            if (t.requiresGrad() && t.dtype() != DType.F64) fail(name + ": gradient checks need F64 inputs");
            if (t.requiresGrad()) t.zeroGrad();
        }
        Tensor out = f.apply(inputs);
        if (out.dtype() != DType.F64) fail(name + ": op returned " + out.dtype() + " for F64 inputs");
        Tensor w = randn(12345, out.shape()).detach();
        Autograd.backward(out, w);
        for (int k = 0; k < inputs.length; k++) {
            Tensor x = inputs[k];
            if (!x.requiresGrad()) continue;
            Tensor analytic = x.grad();
            if (analytic == null) fail(name + ": input " + k + " got no gradient");
            if (!Arrays.equals(analytic.shape(), x.shape())) fail(name + ": gradient shape mismatch for input " + k);
            for (long i = 0, n = x.numel(); i < n; i++) {
                double original = x.getFlat(i);
                x.setFlat(i, original + EPS);
                double plus = weightedSum(f, inputs, w);
                x.setFlat(i, original - EPS);
                double minus = weightedSum(f, inputs, w);
                x.setFlat(i, original);
                double numeric = (plus - minus) / (2 * EPS);
                double a = analytic.getFlat(i);
                if (Math.abs(a - numeric) > TOL * Math.max(1, Math.abs(numeric))) {
                    fail(String.format("%s: input %d element %d: analytic %.10g vs numeric %.10g", name, k, i, a, numeric));
                }
            }
        }
    }

    private static double weightedSum(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor w) {
        try (var s = GradMode.noGrad()) {
            Tensor out = f.apply(inputs);
            double sum = 0;
            for (long i = 0, n = out.numel(); i < n; i++) sum += out.getFlat(i) * w.getFlat(i);
            return sum;
        }
    }

    /** Max |a - b| / max(|b|), the fixtures' relative error. */
    public static double relError(double[] a, double[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num = Math.max(num, Math.abs(a[i] - b[i]));
            den = Math.max(den, Math.abs(b[i]));
        }
        return den == 0 ? num : num / den;
    }
}
