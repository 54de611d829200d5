package org.peft4j.ops;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Cross-entropy of logits against class indices, as PyTorch's {@code cross_entropy} with
 * {@code reduction='mean'} and {@code ignore_index}: the mean over the counted rows (target not equal
 * to the ignore index) of {@code logsumexp(row) - row[target]}.
 *
 * <p>Log-softmax and the negative log-likelihood are fused: forward keeps two numbers per row (the row
 * maximum and the sum of exp(x - max)) and never builds the probabilities; backward writes
 * {@code (softmax - onehot) * g / count} straight from the logits and those numbers, so the only
 * logits-sized array is the gradient itself. Ignored rows cost nothing and get a zero gradient. When
 * no row is counted the loss is defined as 0 with a zero gradient (PyTorch returns NaN), so a batch
 * made only of padding does not poison training. There is no label smoothing (PyTorch's 0.0).
 */
public final class CrossEntropy {
    /** PyTorch's and Hugging Face's default ignore index. */
    public static final int DEFAULT_IGNORE_INDEX = -100;

    private CrossEntropy() {}

    /** {@link #loss(Tensor, Tensor, int)} with ignore index -100. */
    public static Tensor loss(Tensor logits, Tensor targets) { return loss(logits, targets, DEFAULT_IGNORE_INDEX); }

    /**
     * Mean cross-entropy of {@code logits [..., C]} against integer {@code targets [...]}, skipping rows
     * whose target is {@code ignoreIndex}. Returns a scalar (0-dimensional) tensor.
     *
     * @throws IllegalArgumentException when the shapes disagree, the targets are not integers, or a
     *     target is outside [0, C) without being the ignore index
     */
    public static Tensor loss(Tensor logits, Tensor targets, int ignoreIndex) {
        int[] ls = checkLogits(logits, "crossEntropy");
        int[] lead = Arrays.copyOf(ls, ls.length - 1);
        checkTargets(targets, lead, "targets", ls);
        long[] target = targets.toLongArray();
        int classes = ls[ls.length - 1];
        for (int r = 0; r < target.length; r++) checkClass(target[r], ignoreIndex, classes, "targets", r, lead);
        return fused(logits, target, ignoreIndex, "crossEntropy");
    }

    /** {@link #causalLm(Tensor, Tensor, int)} with ignore index -100. */
    public static Tensor causalLm(Tensor logits, Tensor labels) { return causalLm(logits, labels, DEFAULT_IGNORE_INDEX); }

    /**
     * The causal language-model loss as Hugging Face computes it: the logits at position t predict the
     * label at t + 1, so {@code logits [..., T, V]} is scored against {@code labels [..., T]} shifted
     * left by one, and the last position of each sequence predicts nothing. The logits are read in
     * place (no shifted copy); their gradient is zero at the last positions.
     */
    public static Tensor causalLm(Tensor logits, Tensor labels, int ignoreIndex) {
        int[] ls = checkLogits(logits, "causalLm");
        if (ls.length < 2) {
            throw new IllegalArgumentException("causalLm needs logits [..., T, V], got " + Arrays.toString(ls));
        }
        int[] lead = Arrays.copyOf(ls, ls.length - 1);
        checkTargets(labels, lead, "labels", ls);
        long[] label = labels.toLongArray();
        int classes = ls[ls.length - 1], steps = lead[lead.length - 1];
        long[] target = new long[label.length];
        for (int r = 0; r < target.length; r++) {
            boolean lastStep = r % steps == steps - 1;
            target[r] = lastStep ? ignoreIndex : label[r + 1];
            if (!lastStep) checkClass(target[r], ignoreIndex, classes, "labels", r + 1, lead);
        }
        return fused(logits, target, ignoreIndex, "causalLmLoss");
    }

    private static int[] checkLogits(Tensor logits, String op) {
        int[] ls = logits.shape();
        if (ls.length == 0 || !logits.dtype().isFloating()) {
            throw new IllegalArgumentException(op + " needs floating logits [..., C], got " + logits.dtype()
                    + Arrays.toString(ls));
        }
        return ls;
    }

    private static void checkTargets(Tensor targets, int[] expected, String name, int[] logitsShape) {
        if (targets.dtype().isFloating()) {
            throw new IllegalArgumentException(name + " must hold integer class indices, got " + targets.dtype());
        }
        if (!Arrays.equals(targets.shape(), expected)) {
            throw new IllegalArgumentException(name + " of shape " + Arrays.toString(targets.shape())
                    + " do not match logits of shape " + Arrays.toString(logitsShape) + " (expected "
                    + Arrays.toString(expected) + ")");
        }
    }

    private static void checkClass(long value, int ignoreIndex, int classes, String name, int flat, int[] shape) {
        if (value == ignoreIndex || (value >= 0 && value < classes)) return;
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1, f = flat; d >= 0; d--) {
            idx[d] = f % shape[d];
            f /= shape[d];
        }
        throw new IllegalArgumentException(name + Arrays.toString(idx) + " (row " + flat + ") = " + value
                + " is not a class index in [0, " + classes + ") nor the ignore index " + ignoreIndex);
    }

    /** The loss over rows of {@code logits} with one target per row; rows with ignoreIndex are skipped. */
    private static Tensor fused(Tensor logits, long[] target, int ignoreIndex, String op) {
        int[] shape = logits.shape();
        int classes = shape[shape.length - 1], rows = target.length;
        int count = (int) Arrays.stream(target).filter(t -> t != ignoreIndex).count();
        DType type = logits.computeType();
        double[] rowLoss = new double[rows];
        int grain = Math.max(1, Softmax.GRAIN_ELEMENTS / Math.max(1, classes));
        Tensor out = Tensor.zeros(type);
        if (type == DType.F32) {
            RowsF32 x = RowsF32.of(logits);
            // Per row, the max and the sum of exp(x - max): loss = (max - x[t]) + log(sum) and the
            // probabilities exp(x - max) / sum keep the low bits that x - logsumexp would lose.
            float[] max = new float[rows], sum = new float[rows];
            Parallel.forRange(rows, grain, (s, e) -> {
                for (int r = s; r < e; r++) {
                    if (target[r] == ignoreIndex) continue;
                    int off = x.start[r];
                    max[r] = Softmax.maxF32(x.data, off, classes);
                    sum[r] = Softmax.sumExpF32(x.data, off, classes, max[r]);
                    rowLoss[r] = (double) (max[r] - x.data[off + (int) target[r]]) + Math.log(sum[r]);
                }
            });
            out.setStorage(0, mean(rowLoss, count));
            return Autograd.record(out, op, g -> new Tensor[] {
                    backwardF32(x, max, sum, target, ignoreIndex, shape, g.item() / Math.max(1, count))}, logits);
        } else {
            double[] x = logits.doubles();
            double[] lse = new double[rows];
            for (int r = 0; r < rows; r++) {
                if (target[r] == ignoreIndex) continue;
                int off = r * classes;
                double max = Double.NEGATIVE_INFINITY;
                for (int i = off; i < off + classes; i++) max = Math.max(max, x[i]);
                double sum = 0;
                for (int i = off; i < off + classes; i++) sum += Math.exp(x[i] - max);
                lse[r] = max + Math.log(sum);
                rowLoss[r] = lse[r] - x[off + (int) target[r]];
            }
            out.setStorage(0, mean(rowLoss, count));
            return Autograd.record(out, op, g -> new Tensor[] {
                    backwardF64(x, lse, target, ignoreIndex, shape, g.item() / Math.max(1, count))}, logits);
        }
    }

    /** Sum in row order (deterministic whatever the thread count), divided by the counted rows. */
    private static double mean(double[] rowLoss, int count) {
        if (count == 0) return 0;
        double sum = 0;
        for (double v : rowLoss) sum += v;
        return sum / count;
    }

    private static Tensor backwardF32(RowsF32 x, float[] max, float[] sum, long[] target, int ignoreIndex, int[] shape,
            double scale) {
        Tensor grad = Tensor.zeros(DType.F32, shape);
        float[] gr = grad.heapFloats();
        int classes = shape[shape.length - 1];
        Parallel.forRange(target.length, Math.max(1, Softmax.GRAIN_ELEMENTS / Math.max(1, classes)), (start, end) -> {
            for (int r = start; r < end; r++) {
                if (target[r] == ignoreIndex) continue;
                int src = x.start[r], dst = r * classes, i = 0;
                float shift = max[r], factor = (float) (scale / sum[r]);
                for (int bound = Softmax.F.loopBound(classes); i < bound; i += Softmax.F.length()) {
                    FloatVector.fromArray(Softmax.F, x.data, src + i).sub(shift)
                            .lanewise(VectorOperators.EXP).mul(factor).intoArray(gr, dst + i);
                }
                for (; i < classes; i++) gr[dst + i] = (float) Math.exp(x.data[src + i] - shift) * factor;
                gr[dst + (int) target[r]] -= (float) scale;
            }
        });
        return grad;
    }

    private static Tensor backwardF64(double[] x, double[] lse, long[] target, int ignoreIndex, int[] shape,
            double scale) {
        Tensor grad = Tensor.zeros(DType.F64, shape);
        double[] gr = grad.heapDoubles();
        int classes = shape[shape.length - 1];
        for (int r = 0; r < target.length; r++) {
            if (target[r] == ignoreIndex) continue;
            int off = r * classes;
            for (int i = off; i < off + classes; i++) gr[i] = Math.exp(x[i] - lse[r]) * scale;
            gr[off + (int) target[r]] -= scale;
        }
        return grad;
    }

    /**
     * F32 logits as a flat array plus where each row starts. A view whose rows are contiguous (stride 1
     * along the classes) is read from its own storage, so narrowed or permuted batches are not copied;
     * anything else is copied once.
     */
    private record RowsF32(float[] data, int[] start) {
        static RowsF32 of(Tensor t) {
            int[] shape = t.shape();
            int rank = shape.length, classes = shape[rank - 1];
            int rows = (int) (t.numel() / Math.max(1, classes));
            int[] start = new int[rows];
            float[] storage = ownStorage(t);
            if (storage == null) {
                for (int r = 0; r < rows; r++) start[r] = r * classes;
                return new RowsF32(t.floats(), start);
            }
            long[] strides = t.strides();
            int[] idx = new int[rank];
            long off = t.offset();
            for (int r = 0; r < rows; r++) {
                start[r] = (int) off;
                for (int d = rank - 2; d >= 0; d--) {
                    off += strides[d];
                    if (++idx[d] < shape[d]) break;
                    off -= strides[d] * shape[d];
                    idx[d] = 0;
                }
            }
            return new RowsF32(storage, start);
        }

        /** The float[] behind an F32 heap tensor with unit stride along the last axis, else null. */
        private static float[] ownStorage(Tensor t) {
            if (t.dtype() != DType.F32 || (t.size(-1) > 1 && t.stride(-1) != 1)) return null;
            MemorySegment seg = t.segment();
            return seg.heapBase().orElse(null) instanceof float[] f && seg.byteSize() == 4L * f.length
                    && seg.address() == 0 ? f : null;
        }
    }
}
