package org.peft4j.adapters.prefix;

import java.util.Arrays;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * The prefix layout PEFT and AdapterHub share: a row of {@code P} prefix vectors, each of width
 * {@code L·2·kvHeads·headDim}, viewed as [P, L·2, kvHeads, headDim] with layer i's keys in slot 2i and
 * its values in slot 2i+1. The model's cache wants them per layer as [B, kvHeads, P, headDim].
 */
final class PrefixLayout {
    private PrefixLayout() {}

    /**
     * Per layer keys then values, {@code [2][layers]} tensors [batch, kvHeads, P, headDim].
     *
     * @param kv [rows, P, layers·2·kvHeads·headDim] with rows 1 (shared by every batch row) or batch
     */
    static Tensor[][] perLayer(Tensor kv, int layers, int kvHeads, int headDim, int batch) {
        int rows = kv.size(0), p = kv.size(1);
        long width = (long) layers * 2 * kvHeads * headDim;
        if (kv.dim() != 3 || kv.size(2) != width || (rows != 1 && rows != batch)) {
            throw new IllegalArgumentException("prefix of shape " + Arrays.toString(kv.shape()) + " does not fit [" + batch + " or 1, P, "
                    + layers + " layers · 2 · " + kvHeads + " key/value heads · " + headDim + "]");
        }
        // One copy into slot-major order; every layer's keys and values are then contiguous views of it.
        Tensor slots = kv.reshape(rows, p, layers * 2, kvHeads, headDim).permute(2, 0, 3, 1, 4).contiguous();
        int[] ones = new int[layers * 2];
        Arrays.fill(ones, 1);
        Tensor[] pieces = Shapes.split(slots, 0, ones);
        Tensor[][] out = new Tensor[2][layers];
        for (int l = 0; l < layers; l++) {
            for (int kind = 0; kind < 2; kind++) {
                Tensor s = pieces[2 * l + kind].reshape(rows, kvHeads, p, headDim);
                out[kind][l] = rows == batch ? s : s.expand(batch, kvHeads, p, headDim);
            }
        }
        return out;
    }
}
