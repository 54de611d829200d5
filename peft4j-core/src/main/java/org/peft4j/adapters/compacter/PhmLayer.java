package org.peft4j.adapters.compacter;

import java.util.random.RandomGenerator;
import org.peft4j.adapters.bottleneck.Init;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Module;
import org.peft4j.ops.Kron;
import org.peft4j.ops.Linear;
import org.peft4j.ops.MatMul;
import org.peft4j.tensor.Tensor;

/**
 * A parameterized-hypercomplex-multiplication layer (Compacter): {@code y = x·W + b} with the
 * [in, out] weight {@code W = Σ_i A_i ⊗ B_i}, i = 1..n. {@code B_i = W_left[i] · W_right[i]}
 * ([in/n, r]·[r, out/n]) when factorised, else {@code W[i]}. The rule A [n, n, n] is the adapter's shared
 * {@code phm_rule} (read from its owner module at every forward, so loading new values needs no
 * rewiring) or this layer's own. Tensor names are AdapterHub's: {@code W_left}, {@code W_right} (or
 * {@code W}), {@code b}, {@code phm_rule}.
 */
public final class PhmLayer extends Layer {
    private final Module ruleOwner;
    private final int in;
    private final int out;

    /**
     * @param ruleOwner the module holding the shared {@code phm_rule}, or null for a per-layer rule
     * @throws IllegalArgumentException when n does not divide {@code in} or {@code out}
     */
    public PhmLayer(int in, int out, PhmOptions o, Module ruleOwner, RandomGenerator rng) {
        checkDivisible(in, out, o.dim());
        this.in = in;
        this.out = out;
        int n = o.dim();
        if (o.factorizedW()) {
            registerParameter("W_left", weightInit(o, rng, n, in / n, o.rank()));
            registerParameter("W_right", weightInit(o, rng, n, o.rank(), out / n));
        } else {
            registerParameter("W", weightInit(o, rng, n, in / n, out / n));
        }
        if (o.bias()) registerParameter("b", Init.zeros(out));
        if (ruleOwner == null) {
            // AdapterHub initialises a per-layer rule with a fixed 0.01 range, unlike the shared one.
            registerParameter("phm_rule", o.ruleInit().equals("uniform") ? Init.uniform(rng, 0.01, n, n, n) : Init.normal(rng, 0.01, n, n, n));
        }
        this.ruleOwner = ruleOwner == null ? this : ruleOwner;
    }

    /** An error naming the size at fault unless {@code n} divides both sizes. */
    public static void checkDivisible(int in, int out, int n) {
        if (in % n != 0 || out % n != 0) {
            throw new IllegalArgumentException("phm_dim " + n + " must divide the PHM layer's sizes, but "
                    + (in % n != 0 ? "its input size " + in : "its output size " + out) + " is not divisible by " + n
                    + " (PHM layer " + in + " -> " + out + ")");
        }
    }

    private static Tensor weightInit(PhmOptions o, RandomGenerator rng, int n, int rows, int cols) {
        return switch (o.weightInit()) {
            case "glorot-uniform" -> Init.glorotUniform(rng, n, rows, cols);
            case "glorot-normal", "phm" -> Init.glorotNormal(rng, n, rows, cols);
            case "normal" -> Init.normal(rng, o.initRange(), n, rows, cols);
            default -> throw new IllegalArgumentException("hypercomplex_nonlinearity '" + o.weightInit() + "' is not known");
        };
    }

    public int inFeatures() { return in; }

    public int outFeatures() { return out; }

    /** The [in, out] weight Σ_i A_i ⊗ B_i (recorded for autograd). */
    public Tensor weight() {
        Tensor left = parameter("W_left");
        Tensor b = left != null ? MatMul.matmul(left, parameter("W_right")) : parameter("W");
        Tensor rule = ruleOwner.parameter("phm_rule");
        if (rule == null) throw new IllegalStateException("PHM layer has no phm_rule (was the shared rule removed?)");
        return Kron.kronSum(rule, b);
    }

    @Override
    public Tensor forward(Tensor x) {
        // Linear.linear takes [out, in]; the transposed view of W [in, out] is read in place.
        return Linear.linear(x, weight().transpose(0, 1), parameter("b"));
    }
}
