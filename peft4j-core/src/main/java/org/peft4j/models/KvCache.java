package org.peft4j.models;

import org.peft4j.ops.Shapes;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Keys and values of earlier positions, per layer, as [B, kvHeads, S, headDim], with their
 * attention mask [B, S]. Generation fills it step by step; prefix tuning starts it with the learned
 * prefixes (as PEFT hands them to the model), so both share one attention path.
 */
public final class KvCache {
    private final Tensor[] keys;
    private final Tensor[] values;
    private Tensor mask;
    private int length;
    private int positionShift;

    public KvCache(int layers) {
        keys = new Tensor[layers];
        values = new Tensor[layers];
    }

    /**
     * A cache holding given per-layer prefixes [B, kvHeads, P, D], attended by every row. PEFT hands
     * prefixes over as past keys/values, so real tokens are numbered from P on ({@code shiftPositions});
     * AdapterHub's prefix tuning leaves positions where they are.
     */
    public static KvCache ofPrefix(Tensor[] prefixKeys, Tensor[] prefixValues, boolean shiftPositions) {
        KvCache c = new KvCache(prefixKeys.length);
        for (int i = 0; i < prefixKeys.length; i++) {
            c.keys[i] = prefixKeys[i];
            c.values[i] = prefixValues[i];
        }
        int b = prefixKeys[0].size(0);
        c.length = prefixKeys[0].size(2);
        c.mask = Tensor.full(DType.I64, 1, b, c.length);
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

    /** Called once per forward after every layer appended: the new positions become part of the past. */
    public void advance(Tensor fullMask) {
        mask = fullMask;
        length = fullMask.size(1);
    }
}
