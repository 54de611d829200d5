package org.peft4j.adapters.bottleneck;

import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/** Seeded float32 initialisers for adapter weights, named after their PyTorch counterparts. */
public final class Init {
    private Init() {}

    /** N(0, std²) ({@code normal_}). */
    public static Tensor normal(RandomGenerator rng, double std, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (std * rng.nextGaussian());
        return Tensor.of(v, shape);
    }

    /** N(0, std²) redrawn until inside [lo, hi] ({@code trunc_normal_}). */
    public static Tensor truncatedNormal(RandomGenerator rng, double std, double lo, double hi, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            double x;
            do {
                x = std * rng.nextGaussian();
            } while (x < lo || x > hi);
            v[i] = (float) x;
        }
        return Tensor.of(v, shape);
    }

    /** Uniform in [-bound, bound). */
    public static Tensor uniform(RandomGenerator rng, double bound, int... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
        return Tensor.of(v, shape);
    }

    /**
     * {@code kaiming_uniform_(a=√5)} of a weight whose last dimension is its fan-in, as torch.nn.Linear
     * initialises its weight: uniform with bound 1/√fan_in.
     */
    public static Tensor kaimingUniform(RandomGenerator rng, int... shape) {
        return uniform(rng, 1 / Math.sqrt(shape[shape.length - 1]), shape);
    }

    /** Glorot (Xavier) uniform of a 2-D [rows, cols] slice: bound √(6 / (rows + cols)). */
    public static Tensor glorotUniform(RandomGenerator rng, int n, int rows, int cols) {
        return uniform(rng, Math.sqrt(6.0 / (rows + cols)), n, rows, cols);
    }

    /** Glorot (Xavier) normal of each 2-D [rows, cols] slice: std √(2 / (rows + cols)). */
    public static Tensor glorotNormal(RandomGenerator rng, int n, int rows, int cols) {
        return normal(rng, Math.sqrt(2.0 / (rows + cols)), n, rows, cols);
    }

    public static Tensor zeros(int... shape) { return Tensor.zeros(shape); }

    public static Tensor ones(int... shape) { return Tensor.ones(shape); }
}
