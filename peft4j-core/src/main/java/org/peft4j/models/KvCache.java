package org.peft4j.models;

import org.peft4j.ops.Shapes;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Keys and values of earlier positions, per layer, as [B, kvHeads, S, headDim], with their
 * attention mask [B, S]. Generation fills it step by step; prefix tuning starts it with the learned
 * prefixes (as PEFT hands them to the model), so both share one attention path.
 *
 * <p>A prefix cache may leave layers without a prefix (AdapterDrop): such a layer attends its own
 * positions only, the prefix positions cut from the front of its key mask. It may also carry a
 * {@link PrefixGate} (UniPELT), which rescales each layer's prefix from that layer's attention input.
 */
public final class KvCache {
    /**
     * Rescales one layer's prefix from the attention layer's input: AdapterHub's gated prefix tuning
     * (UniPELT), whose gate is computed from the hidden states that enter the attention.
     */
    @FunctionalInterface
    public interface PrefixGate {
        /**
         * @param layer  the layer index
         * @param input  the attention layer's input [B, T, H] (after the input norm in pre-LN decoders)
         * @param keys   the layer's prefix keys [B, kvHeads, P, headDim]
         * @param values the layer's prefix values [B, kvHeads, P, headDim]
         * @return the keys and values the layer attends instead, same shapes
         */
        Tensor[] apply(int layer, Tensor input, Tensor keys, Tensor values);
    }

    /** What one layer's attention reads: keys and values [B, kvHeads, S, headDim] and the key mask [B, S]. */
    public record LayerKv(Tensor keys, Tensor values, Tensor keyMask) {}

    private final Tensor[] keys;
    private final Tensor[] values;
    private Tensor mask;
    private int length;
    private int positionShift;
    /** Per layer, how many leading positions of the shared key mask it does not have (a dropped prefix). */
    private final int[] missingPrefix;
    /** Per layer, whether its cached keys are still the prefix that {@link #gate} has to rescale. */
    private final boolean[] ungated;
    private PrefixGate gate;

    public KvCache(int layers) {
        keys = new Tensor[layers];
        values = new Tensor[layers];
        missingPrefix = new int[layers];
        ungated = new boolean[layers];
    }

    /**
     * A cache holding given per-layer prefixes [B, kvHeads, P, D], attended by every row. PEFT hands
     * prefixes over as past keys/values, so real tokens are numbered from P on ({@code shiftPositions});
     * AdapterHub's prefix tuning leaves positions where they are.
     */
    public static KvCache ofPrefix(Tensor[] prefixKeys, Tensor[] prefixValues, boolean shiftPositions) {
        return ofPrefix(prefixKeys, prefixValues, shiftPositions, null);
    }

    /**
     * As {@link #ofPrefix(Tensor[], Tensor[], boolean)}, where a null entry leaves that layer without a
     * prefix (it attends only the real positions), and a non-null {@code gate} rescales each layer's
     * prefix from the layer's attention input when the layer first reads it ({@link #attend}).
     */
    public static KvCache ofPrefix(Tensor[] prefixKeys, Tensor[] prefixValues, boolean shiftPositions, PrefixGate gate) {
        return ofPrefix(prefixKeys, prefixValues, shiftPositions, gate, null);
    }

    /**
     * As {@link #ofPrefix(Tensor[], Tensor[], boolean, PrefixGate)}, where {@code rowMask} [B, P] (I64,
     * null: all ones) says which prefix positions each row attends: rows of a mixed batch see only the
     * prefixes of their own adapters.
     */
    public static KvCache ofPrefix(Tensor[] prefixKeys, Tensor[] prefixValues, boolean shiftPositions, PrefixGate gate,
                                   Tensor rowMask) {
        KvCache c = new KvCache(prefixKeys.length);
        Tensor first = null;
        for (int i = 0; i < prefixKeys.length; i++) {
            if ((prefixKeys[i] == null) != (prefixValues[i] == null)) {
                throw new IllegalArgumentException("layer " + i + " has prefix " + (prefixKeys[i] == null ? "values" : "keys") + " only");
            }
            c.keys[i] = prefixKeys[i];
            c.values[i] = prefixValues[i];
            if (first == null) first = prefixKeys[i];
        }
        if (first == null) throw new IllegalArgumentException("a prefix cache needs a prefix in at least one layer");
        int b = first.size(0);
        c.length = first.size(2);
        for (int i = 0; i < prefixKeys.length; i++) {
            if (prefixKeys[i] == null) c.missingPrefix[i] = c.length;
            else if (prefixKeys[i].size(2) != c.length || prefixValues[i].size(2) != c.length) {
                throw new IllegalArgumentException("layer " + i + " has a prefix of " + prefixKeys[i].size(2) + " keys and "
                        + prefixValues[i].size(2) + " values; every prefixed layer needs " + c.length);
            }
            c.ungated[i] = gate != null && prefixKeys[i] != null;
        }
        c.gate = gate;
        if (rowMask != null && (rowMask.dim() != 2 || rowMask.size(0) != b || rowMask.size(1) != c.length)) {
            throw new IllegalArgumentException("prefix row mask " + java.util.Arrays.toString(rowMask.shape()) + " for a batch of "
                    + b + " and " + c.length + " prefix positions");
        }
        c.mask = rowMask != null ? rowMask : Tensor.full(DType.I64, 1, b, c.length);
        c.positionShift = shiftPositions ? 0 : -c.length;
        return c;
    }

    /** Number of cached positions. */
    public int length() { return length; }

    /** The position of the next token: the cache length, less an unshifted prefix. */
    public int positionOffset() { return length + positionShift; }

    /** The mask covering cached and new positions: [B, length + T]. */
    public Tensor fullMask(Tensor newMask) {
        return mask == null ? newMask : Shapes.concat(1, mask.to(newMask.dtype()), newMask);
    }

    /** Layer {@code layer}'s keys and values including the cached ones; remembers them for the next call. */
    public Tensor[] append(int layer, Tensor k, Tensor v) {
        Tensor fullK = keys[layer] == null ? k : Shapes.concat(2, keys[layer], k);
        Tensor fullV = values[layer] == null ? v : Shapes.concat(2, values[layer], v);
        keys[layer] = fullK;
        values[layer] = fullV;
        return new Tensor[] {fullK, fullV};
    }

    /**
     * Layer {@code layer}'s keys, values and key mask for one forward: the new positions' {@code k},
     * {@code v} (computed from the attention input {@code input}) appended as {@link #append} does, under
     * the pass's key mask over cached and new positions. A gated prefix is rescaled from {@code input} the
     * first time the layer reads it; a layer without a prefix gets the mask without the prefix positions.
     */
    public LayerKv attend(int layer, Tensor input, Tensor k, Tensor v, Tensor keyMask) {
        if (ungated[layer]) {
            Tensor[] gated = gate.apply(layer, input, keys[layer], values[layer]);
            keys[layer] = gated[0];
            values[layer] = gated[1];
            ungated[layer] = false;
        }
        Tensor[] kv = append(layer, k, v);
        int cut = missingPrefix[layer];
        Tensor mask = cut == 0 || keyMask == null ? keyMask : keyMask.narrow(1, cut, keyMask.size(1) - cut);
        return new LayerKv(kv[0], kv[1], mask);
    }

    /** Called once per forward after every layer appended: the new positions become part of the past. */
    public void advance(Tensor fullMask) {
        mask = fullMask;
        length = fullMask.size(1);
    }
}
