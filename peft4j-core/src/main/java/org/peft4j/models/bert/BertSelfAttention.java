package org.peft4j.models.bert;

import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.ops.Attention;
import org.peft4j.tensor.Tensor;

/** Multi-head self-attention with query/key/value projections (HF {@code attention.self}). */
public final class BertSelfAttention extends Module {
    private final int heads;
    private final int headDim;
    private final int layerIndex;

    BertSelfAttention(ModelConfig c, Weights w, String p, int layerIndex) {
        this.heads = c.numHeads();
        this.headDim = c.headDim();
        this.layerIndex = layerIndex;
        for (String n : new String[] {"query", "key", "value"}) {
            registerModule(n, new Linear(w.get(p + n + ".weight"), w.get(p + n + ".bias")));
        }
    }

    Tensor forward(Tensor x, ForwardState s) {
        Tensor q = ForwardState.heads(this.<Layer>child("query").forward(x), heads, headDim);
        Tensor k = ForwardState.heads(this.<Layer>child("key").forward(x), heads, headDim);
        Tensor v = ForwardState.heads(this.<Layer>child("value").forward(x), heads, headDim);
        Tensor keyMask = s.keyMask();
        if (s.cache() != null) {
            KvCache.LayerKv kv = s.cache().attend(layerIndex, x, k, v, keyMask);
            k = kv.keys();
            v = kv.values();
            keyMask = kv.keyMask();
        }
        Tensor ctx = Attention.sdpa(q, k, v, keyMask, false, 1.0 / Math.sqrt(headDim));
        return ForwardState.mergeHeads(ctx);
    }
}
