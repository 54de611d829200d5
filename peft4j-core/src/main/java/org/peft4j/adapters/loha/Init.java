package org.peft4j.adapters.loha;

import java.util.SplittableRandom;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Weight initialisations of PEFT's LyCORIS layers, drawn from a seeded generator. */
public final class Init {
    private Init() {}

    /**
     * torch's {@code kaiming_uniform_(a=sqrt(5))} on a [rows, cols] matrix: uniform in ±1/sqrt(cols)
     * (the gain sqrt(2/(1+a²)) times sqrt(3/fan_in), with fan_in = cols).
     */
    public static Tensor kaimingUniform(SplittableRandom rng, DType dtype, int rows, int cols) {
        double bound = 1 / Math.sqrt(cols);
        double[] v = new double[Math.multiplyExact(rows, cols)];
        for (int i = 0; i < v.length; i++) v[i] = rng.nextDouble(-bound, bound);
        return Tensor.of(v, rows, cols).to(dtype);
    }

    public static Tensor zeros(DType dtype, int rows, int cols) { return Tensor.zeros(dtype, rows, cols); }
}
