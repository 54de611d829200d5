package org.peft4j.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.peft4j.autograd.GradMode;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Linear;
import org.peft4j.ops.Losses;
import org.peft4j.ops.MatMul;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.GradClip;
import org.peft4j.optim.LrSchedule;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoRA on one frozen linear layer, in miniature: a check of the foundation (bf16 weight storage,
 * autograd that skips frozen tensors, AdamW with a warmup/decay schedule, gradient clipping) that
 * runs in about a second.
 *
 * <p>A frozen weight {@code W0 [d, d]} is stored in bf16. Targets come from a hidden rank-r change
 * {@code ΔW} to it: {@code y = x·(W0 + ΔW)ᵀ}. The model is {@code x·W0ᵀ + (alpha/r)·x·Aᵀ·Bᵀ} with only
 * {@code A [r, d]} (small uniform init) and {@code B [d, r]} (zero init) trainable, as LoRA
 * initialises them; training must find {@code (alpha/r)·B·A = ΔW}.
 */
public final class FoundationDemo {
    /** The demo's sizes and hyperparameters. */
    public record Config(int dim, int rank, double alpha, int samples, int batch, int steps, double lr,
                         double clipNorm, long seed) {
        public static final Config DEFAULT = new Config(256, 8, 16, 1024, 64, 300, 1e-2, 1.0, 42);

        public Config {
            if (dim < 1 || rank < 1 || rank > dim) throw new IllegalArgumentException("demo needs 1 <= rank <= dim, got rank "
                    + rank + ", dim " + dim);
            if (batch < 1 || samples < batch || samples % batch != 0) {
                throw new IllegalArgumentException("demo samples (" + samples + ") must be a multiple of the batch ("
                        + batch + ")");
            }
            if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }

        public Config withSteps(int newSteps) {
            return new Config(dim, rank, alpha, samples, batch, newSteps, lr, clipNorm, seed);
        }

        public Config withSeed(long newSeed) {
            return new Config(dim, rank, alpha, samples, batch, steps, lr, clipNorm, newSeed);
        }

        /** Linear warmup over the first tenth of the steps. */
        int warmupSteps() { return steps / 10; }
    }

    /**
     * What the demo measured.
     *
     * @param trainableParams  parameters of A and B
     * @param totalParams      frozen plus trainable parameters
     * @param initialLoss      MSE over all samples before training
     * @param finalLoss        MSE over all samples after training
     * @param updateError      ‖(alpha/r)·B·A − ΔW‖ / ‖ΔW‖ (Frobenius) after training
     * @param frozenGradIsNull whether W0.grad() was null after training
     * @param frozenPathOnTape whether the frozen product x·W0ᵀ was ever recorded for backward
     * @param seconds          wall time of the training loop
     */
    public record Result(long trainableParams, long totalParams, double initialLoss, double finalLoss,
                         double updateError, boolean frozenGradIsNull, boolean frozenPathOnTape, double seconds) {}

    private final Config config;

    public FoundationDemo(Config config) { this.config = config; }

    /** Runs the demo, reporting to {@code out} (with a redrawn progress bar when {@code interactive}). */
    public Result run(PrintStream out, boolean interactive) {
        Config c = config;
        int d = c.dim(), r = c.rank();
        SplittableRandom rnd = new SplittableRandom(c.seed());

        // The frozen layer and the hidden change the adapter has to find. ΔW is scaled so that the
        // initial error per output is about 0.25 (x ~ N(0, 1), ΔW = s·U·V with U, V ~ N(0, 1)).
        Tensor w0 = Tensor.zeros(DType.BF16, d, d);
        for (int i = 0; i < d * d; i++) w0.setStorage(i, rnd.nextGaussian() / Math.sqrt(d));
        float[] hiddenDelta = lowRank(rnd, d, r, 0.5 / Math.sqrt((double) d * r));

        Tensor x = Tensor.of(gaussian(rnd, c.samples() * d), c.samples(), d);
        Tensor y;
        try (var noGrad = GradMode.noGrad()) {
            float[] target = w0.toFloatArray();
            for (int i = 0; i < target.length; i++) target[i] += hiddenDelta[i];
            y = Linear.linear(x, Tensor.of(target, d, d), null);
        }

        double bound = 1 / Math.sqrt(d); // kaiming-uniform with a = sqrt(5), as LoRA initialises A
        float[] aInit = new float[r * d];
        for (int i = 0; i < aInit.length; i++) aInit[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        Tensor a = Tensor.of(aInit, r, d).requiresGrad(true);
        Tensor b = Tensor.zeros(d, r).requiresGrad(true);
        double scaling = c.alpha() / r;
        long trainable = a.numel() + b.numel(), total = w0.numel() + trainable;

        Map<String, Tensor> params = new LinkedHashMap<>();
        params.put("lora_A", a);
        params.put("lora_B", b);
        AdamW optimizer = new AdamW(List.of(new ParamGroup(params, c.lr(), 0.0)));
        optimizer.setSchedule(LrSchedule.linearWithWarmup(c.warmupSteps(), c.steps()));

        out.println("peft4j foundation demo: LoRA on one frozen linear layer");
        out.printf(Locale.ROOT, "  frozen W0    %dx%d stored as bf16 (%,d parameters in %,d KiB), requiresGrad=%s%n",
                d, d, w0.numel(), w0.numel() * DType.BF16.byteSize() / 1024, w0.requiresGrad());
        out.printf(Locale.ROOT, "  trainable    A %dx%d + B %dx%d (rank %d, alpha %s): %,d of %,d parameters (%.2f%%)%n",
                r, d, d, r, r, fmt(c.alpha()), trainable, total, 100.0 * trainable / total);
        out.printf(Locale.ROOT, "  task         %,d random inputs, targets y = x*(W0 + dW)^T with a hidden rank-%d dW%n",
                c.samples(), r);
        out.printf(Locale.ROOT, "  training     %d steps of %d samples, AdamW lr %s (%d warm-up steps, then linear decay),"
                + " global grad-norm clip %s%n", c.steps(), c.batch(), c.lr(), c.warmupSteps(), c.clipNorm());

        double initialLoss = loss(x, y, w0, a, b, scaling);
        boolean frozenPathOnTape = false;
        ProgressBar bar = new ProgressBar(out, c.steps(), "samples", interactive, Math.max(1, c.steps() / 10));
        long start = System.nanoTime();
        for (int step = 1; step <= c.steps(); step++) {
            int offset = (step - 1) * c.batch() % c.samples();
            Tensor xb = x.narrow(0, offset, c.batch()), yb = y.narrow(0, offset, c.batch());
            Tensor frozenPath = Linear.linear(xb, w0, null);
            frozenPathOnTape |= frozenPath.gradFn() != null;
            Tensor adapterPath = Linear.linear(Linear.linear(xb, a, null), b, null);
            Tensor loss = Losses.mse(Elementwise.add(frozenPath, Elementwise.scale(adapterPath, scaling)), yb);
            loss.backward();
            GradClip.clipGlobalNorm(optimizer.parameters(), c.clipNorm());
            optimizer.step();
            optimizer.zeroGrad();
            bar.update(step, (long) step * c.batch(), loss.item());
        }
        bar.finish();
        double seconds = (System.nanoTime() - start) / 1e9;

        double finalLoss = loss(x, y, w0, a, b, scaling);
        double updateError = updateError(a, b, scaling, hiddenDelta);
        boolean frozenGradIsNull = w0.grad() == null;

        double drop = initialLoss / finalLoss;
        out.printf(Locale.ROOT, "  loss         %.4g -> %.4g on all %,d samples (%s times lower)%n",
                initialLoss, finalLoss, c.samples(), String.format(Locale.ROOT, drop < 1e4 ? "%.1f" : "%.1e", drop));
        out.printf(Locale.ROOT, "  learned dW   (alpha/r)*B*A matches the hidden dW to %.2f%% (relative Frobenius error)%n",
                100 * updateError);
        out.printf(Locale.ROOT, "  frozen W0    grad() is %s after %d backward passes; x*W0^T was %s%n",
                frozenGradIsNull ? "null" : "NOT null", c.steps(),
                frozenPathOnTape ? "recorded on the tape" : "never recorded, so backward did no work for W0");
        out.printf(Locale.ROOT, "  time         %.2f s (%,.0f steps/s)%n", seconds, c.steps() / seconds);
        return new Result(trainable, total, initialLoss, finalLoss, updateError, frozenGradIsNull, frozenPathOnTape, seconds);
    }

    /** MSE of the model over every sample, without recording. */
    private static double loss(Tensor x, Tensor y, Tensor w0, Tensor a, Tensor b, double scaling) {
        try (var noGrad = GradMode.noGrad()) {
            Tensor adapterPath = Linear.linear(Linear.linear(x, a, null), b, null);
            return Losses.mse(Elementwise.add(Linear.linear(x, w0, null), Elementwise.scale(adapterPath, scaling)), y).item();
        }
    }

    /** ‖scaling·B·A − ΔW‖ / ‖ΔW‖ in the Frobenius norm. */
    private static double updateError(Tensor a, Tensor b, double scaling, float[] hiddenDelta) {
        float[] learned;
        try (var noGrad = GradMode.noGrad()) {
            learned = MatMul.matmul(b, a).floats();
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < hiddenDelta.length; i++) {
            double e = scaling * learned[i] - hiddenDelta[i];
            diff += e * e;
            norm += (double) hiddenDelta[i] * hiddenDelta[i];
        }
        return Math.sqrt(diff / norm);
    }

    /** scale·U·V for U [d, r] and V [r, d] with N(0, 1) entries, row-major [d, d]. */
    private static float[] lowRank(SplittableRandom rnd, int d, int r, double scale) {
        double[] u = new double[d * r], v = new double[r * d];
        for (int i = 0; i < u.length; i++) u[i] = rnd.nextGaussian();
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextGaussian();
        float[] out = new float[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) s += u[i * r + k] * v[k * d + j];
                out[i * d + j] = (float) (scale * s);
            }
        }
        return out;
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) rnd.nextGaussian();
        return out;
    }

    /** 16 rather than 16.0. */
    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
