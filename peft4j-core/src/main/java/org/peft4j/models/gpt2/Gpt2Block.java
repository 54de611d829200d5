package org.peft4j.models.gpt2;

import java.util.function.UnaryOperator;
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Attention;
import org.peft4j.tensor.Tensor;

/** A pre-LN GPT-2 block: x + attn(ln_1(x)), then x + mlp(ln_2(x)), with fused q|k|v in {@code c_attn}. */
public final class Gpt2Block extends Module {
    private final int heads;
    private final int headDim;
    private final int hidden;
    private final int layerIndex;
    private final double dropout;
    private final UnaryOperator<Tensor> act;

    Gpt2Block(ModelConfig c, Weights w, String p, int layerIndex, double dropout) {
        this.heads = c.numHeads();
        this.headDim = c.headDim();
        this.hidden = c.hiddenSize();
        this.layerIndex = layerIndex;
        this.dropout = dropout;
        this.act = Activations.byName(c.hiddenAct());
        registerModule("ln_1", new LayerNorm(w.get(p + "ln_1.weight"), w.get(p + "ln_1.bias"), c.normEps()));
        Module attn = registerModule("attn", new ModuleDict());
        attn.registerModule("c_attn", new Conv1D(w.get(p + "attn.c_attn.weight"), w.get(p + "attn.c_attn.bias")));
        attn.registerModule("c_proj", new Conv1D(w.get(p + "attn.c_proj.weight"), w.get(p + "attn.c_proj.bias")));
        registerModule("ln_2", new LayerNorm(w.get(p + "ln_2.weight"), w.get(p + "ln_2.bias"), c.normEps()));
        Module mlp = registerModule("mlp", new ModuleDict());
        mlp.registerModule("c_fc", new Conv1D(w.get(p + "mlp.c_fc.weight"), w.get(p + "mlp.c_fc.bias")));
        mlp.registerModule("c_proj", new Conv1D(w.get(p + "mlp.c_proj.weight"), w.get(p + "mlp.c_proj.bias")));
    }

    Tensor forward(Tensor x, ForwardState s) {
        Module attn = child("attn");
        Tensor n = this.<Layer>child("ln_1").forward(x);
        Tensor qkv = attn.<Layer>child("c_attn").forward(n);
        Tensor q = ForwardState.heads(qkv.narrow(2, 0, hidden), heads, headDim);
        Tensor k = ForwardState.heads(qkv.narrow(2, hidden, hidden), heads, headDim);
        Tensor v = ForwardState.heads(qkv.narrow(2, 2 * hidden, hidden), heads, headDim);
        Tensor keyMask = s.keyMask();
        if (s.cache() != null) {
            KvCache.LayerKv kv = s.cache().attend(layerIndex, n, k, v, keyMask);
            k = kv.keys();
            v = kv.values();
            keyMask = kv.keyMask();
        }
        Tensor ctx = ForwardState.mergeHeads(Attention.sdpa(q, k, v, keyMask, true, 1.0 / Math.sqrt(headDim)));
        x = AdapterSite.combine(this, "attention_adapters", s.dropout(attn.<Layer>child("c_proj").forward(ctx), dropout), x, null, s);
        Module mlp = child("mlp");
        Tensor h = act.apply(mlp.<Layer>child("c_fc").forward(this.<Layer>child("ln_2").forward(x)));
        return AdapterSite.combine(this, "output_adapters", s.dropout(mlp.<Layer>child("c_proj").forward(h), dropout), x, null, s);
    }
}
