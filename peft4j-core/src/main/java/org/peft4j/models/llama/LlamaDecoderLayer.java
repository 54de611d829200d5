package org.peft4j.models.llama;

import java.util.function.UnaryOperator;
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.nn.RmsNorm;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Attention;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Rotary;
import org.peft4j.tensor.Tensor;

/**
 * A Llama/Qwen2/Mistral decoder layer: RMSNorm → attention with rotary q/k and grouped-query heads →
 * residual; RMSNorm → SwiGLU MLP {@code down(act(gate(x)) · up(x))} → residual.
 */
public final class LlamaDecoderLayer extends Module {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int layerIndex;
    private final UnaryOperator<Tensor> act;

    LlamaDecoderLayer(ModelConfig c, Weights w, String p, int layerIndex) {
        this.heads = c.numHeads();
        this.kvHeads = c.numKvHeads();
        this.headDim = c.headDim();
        this.layerIndex = layerIndex;
        this.act = Activations.byName(c.hiddenAct());
        registerModule("input_layernorm", new RmsNorm(w.get(p + "input_layernorm.weight"), c.normEps()));
        Module attn = registerModule("self_attn", new ModuleDict());
        for (String n : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
            attn.registerModule(n, new Linear(w.get(p + "self_attn." + n + ".weight"), w.opt(p + "self_attn." + n + ".bias")));
        }
        registerModule("post_attention_layernorm", new RmsNorm(w.get(p + "post_attention_layernorm.weight"), c.normEps()));
        Module mlp = registerModule("mlp", new ModuleDict());
        for (String n : new String[] {"gate_proj", "up_proj", "down_proj"}) {
            mlp.registerModule(n, new Linear(w.get(p + "mlp." + n + ".weight"), w.opt(p + "mlp." + n + ".bias")));
        }
    }

    Tensor forward(Tensor x, ForwardState s) {
        Module attn = child("self_attn");
        Tensor n = this.<Layer>child("input_layernorm").forward(x);
        Tensor q = Rotary.apply(ForwardState.heads(attn.<Layer>child("q_proj").forward(n), heads, headDim), s.cos(), s.sin());
        Tensor k = Rotary.apply(ForwardState.heads(attn.<Layer>child("k_proj").forward(n), kvHeads, headDim), s.cos(), s.sin());
        Tensor v = ForwardState.heads(attn.<Layer>child("v_proj").forward(n), kvHeads, headDim);
        Tensor keyMask = s.keyMask();
        if (s.cache() != null) {
            KvCache.LayerKv kv = s.cache().attend(layerIndex, n, k, v, keyMask);
            k = kv.keys();
            v = kv.values();
            keyMask = kv.keyMask();
        }
        Tensor ctx = ForwardState.mergeHeads(Attention.sdpa(q, k, v, keyMask, true, 1.0 / Math.sqrt(headDim)));
        x = AdapterSite.combine(this, "attention_adapters", attn.<Layer>child("o_proj").forward(ctx), x, null, s);
        Module mlp = child("mlp");
        Tensor m = this.<Layer>child("post_attention_layernorm").forward(x);
        Tensor gated = Elementwise.mul(act.apply(mlp.<Layer>child("gate_proj").forward(m)), mlp.<Layer>child("up_proj").forward(m));
        return AdapterSite.combine(this, "output_adapters", mlp.<Layer>child("down_proj").forward(gated), x, null, s);
    }
}
