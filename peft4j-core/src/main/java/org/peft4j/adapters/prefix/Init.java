package org.peft4j.adapters.prefix;

import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/** PyTorch's default initialisations for the prefix modules, drawn from the adapter's seeded generator. */
final class Init {
    private Init() {}

    /** nn.Embedding's and torch.randn's standard normal values. */
    static Tensor normal(RandomGenerator rng, int... shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) rng.nextGaussian();
        return Tensor.of(v, shape);
    }

    /** nn.Linear's default (kaiming-uniform with a = √5, and its bias rule): U(-1/√in, 1/√in). */
    static Tensor linearUniform(RandomGenerator rng, int fanIn, int... shape) {
        double bound = 1.0 / Math.sqrt(fanIn);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        return Tensor.of(v, shape);
    }

    static Tensor zeros(int... shape) { return Tensor.zeros(shape); }
}
