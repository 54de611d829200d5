package org.peft4j.models.llama;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import org.peft4j.models.CausalLm;
import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ParamSpec;
import org.peft4j.models.Weights;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.nn.RmsNorm;
import org.peft4j.ops.Rotary;
import org.peft4j.tensor.Tensor;

/** Hugging Face's LlamaForCausalLM, which also covers Qwen2 (q/k/v bias, tied embeddings) and Mistral. */
public final class LlamaForCausalLm extends Module implements CausalLm {
    private final ModelConfig config;

    public LlamaForCausalLm(ModelConfig c, Weights w) {
        this.config = c;
        Module model = registerModule("model", new ModuleDict());
        model.registerModule("embed_tokens", new Embedding(w.get("model.embed_tokens.weight")));
        Module layers = model.registerModule("layers", new ModuleDict());
        for (int i = 0; i < c.numLayers(); i++) {
            layers.registerModule(Integer.toString(i), new LlamaDecoderLayer(c, w, "model.layers." + i + ".", i));
        }
        model.registerModule("norm", new RmsNorm(w.get("model.norm.weight"), c.normEps()));
        if (!c.tieWordEmbeddings()) registerModule("lm_head", new Linear(w.get("lm_head.weight"), null));
    }

    @Override
    public ModelConfig config() { return config; }

    @Override
    public int numLayers() { return config.numLayers(); }

    @Override
    public Tensor embed(Tensor inputIds) { return child("model").<Embedding>child("embed_tokens").forward(inputIds); }

    @Override
    public Tensor forward(Tensor inputIds, Tensor attentionMask, KvCache cache, RandomGenerator rng) {
        return forwardEmbeddings(embed(inputIds), attentionMask, cache, rng);
    }

    @Override
    public Tensor forwardEmbeddings(Tensor x, Tensor attentionMask, KvCache cache, RandomGenerator rng) {
        Module model = child("model");
        int past = cache == null ? 0 : cache.positionOffset();
        Tensor keyMask = cache == null ? attentionMask : cache.fullMask(attentionMask);
        ForwardState s = new ForwardState(keyMask, cache, isTraining(), rng);
        Rotary.Tables rope = Rotary.tables(x.size(1), config.headDim(), config.ropeTheta(), past);
        s.rotary(rope.cos(), rope.sin());
        Module layers = model.child("layers");
        for (int i = 0; i < config.numLayers(); i++) x = layers.<LlamaDecoderLayer>child(Integer.toString(i)).forward(x, s);
        x = model.<RmsNorm>child("norm").forward(x);
        if (cache != null) cache.advance(keyMask);
        Tensor head = config.tieWordEmbeddings() ? model.<Embedding>child("embed_tokens").weight() : child("lm_head").parameter("weight");
        return org.peft4j.ops.Linear.linear(x, head, null);
    }

    public static List<ParamSpec> specs(ModelConfig c) {
        List<ParamSpec> s = new ArrayList<>();
        int h = c.hiddenSize(), f = c.intermediateSize(), qd = c.numHeads() * c.headDim(), kvd = c.numKvHeads() * c.headDim();
        s.add(new ParamSpec("model.embed_tokens.weight", c.vocabSize(), h));
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            s.add(new ParamSpec(p + "input_layernorm.weight", h));
            s.add(new ParamSpec(p + "self_attn.q_proj.weight", qd, h));
            s.add(new ParamSpec(p + "self_attn.k_proj.weight", kvd, h));
            s.add(new ParamSpec(p + "self_attn.v_proj.weight", kvd, h));
            s.add(new ParamSpec(p + "self_attn.o_proj.weight", h, qd));
            if (c.attentionBias()) {
                s.add(new ParamSpec(p + "self_attn.q_proj.bias", qd));
                s.add(new ParamSpec(p + "self_attn.k_proj.bias", kvd));
                s.add(new ParamSpec(p + "self_attn.v_proj.bias", kvd));
            }
            if (c.attentionOutputBias()) s.add(new ParamSpec(p + "self_attn.o_proj.bias", h));
            s.add(new ParamSpec(p + "post_attention_layernorm.weight", h));
            s.add(new ParamSpec(p + "mlp.gate_proj.weight", f, h));
            s.add(new ParamSpec(p + "mlp.up_proj.weight", f, h));
            s.add(new ParamSpec(p + "mlp.down_proj.weight", h, f));
            if (c.mlpBias()) {
                s.add(new ParamSpec(p + "mlp.gate_proj.bias", f));
                s.add(new ParamSpec(p + "mlp.up_proj.bias", f));
                s.add(new ParamSpec(p + "mlp.down_proj.bias", h));
            }
        }
        s.add(new ParamSpec("model.norm.weight", h));
        if (!c.tieWordEmbeddings()) s.add(new ParamSpec("lm_head.weight", c.vocabSize(), h));
        return s;
    }
}
