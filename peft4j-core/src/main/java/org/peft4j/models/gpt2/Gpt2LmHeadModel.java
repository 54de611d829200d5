package org.peft4j.models.gpt2;

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
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;

/** Hugging Face's GPT2LMHeadModel: token + learned position embeddings, pre-LN blocks, tied LM head. */
public final class Gpt2LmHeadModel extends Module implements CausalLm {
    private final ModelConfig config;
    private final double dropout;

    public Gpt2LmHeadModel(ModelConfig c, Weights w, double dropout) {
        this.config = c;
        this.dropout = dropout;
        Module t = registerModule("transformer", new ModuleDict());
        t.registerModule("wte", new Embedding(w.get("transformer.wte.weight")));
        t.registerModule("wpe", new Embedding(w.get("transformer.wpe.weight")));
        Module h = t.registerModule("h", new ModuleDict());
        for (int i = 0; i < c.numLayers(); i++) {
            h.registerModule(Integer.toString(i), new Gpt2Block(c, w, "transformer.h." + i + ".", i, dropout));
        }
        t.registerModule("ln_f", new LayerNorm(w.get("transformer.ln_f.weight"), w.get("transformer.ln_f.bias"), c.normEps()));
        if (!c.tieWordEmbeddings()) registerModule("lm_head", new Linear(w.get("lm_head.weight"), null));
    }

    @Override
    public ModelConfig config() { return config; }

    @Override
    public int numLayers() { return config.numLayers(); }

    @Override
    public Tensor embed(Tensor inputIds) { return child("transformer").<Embedding>child("wte").forward(inputIds); }

    @Override
    public Tensor forward(Tensor inputIds, Tensor attentionMask, KvCache cache, RandomGenerator rng) {
        return forwardEmbeddings(embed(inputIds), attentionMask, cache, rng);
    }

    @Override
    public Tensor forwardEmbeddings(Tensor embeddings, Tensor attentionMask, KvCache cache, RandomGenerator rng) {
        Module t = child("transformer");
        int b = embeddings.size(0), len = embeddings.size(1);
        int past = cache == null ? 0 : cache.positionOffset();
        long[] pos = new long[b * len];
        for (int i = 0; i < b; i++) for (int j = 0; j < len; j++) pos[i * len + j] = past + j;
        Tensor keyMask = cache == null ? attentionMask : cache.fullMask(attentionMask);
        ForwardState s = new ForwardState(keyMask, cache, isTraining(), rng);
        Tensor x = s.dropout(Elementwise.add(embeddings, t.<Embedding>child("wpe").forward(Tensor.of(pos, b, len))), dropout);
        Module blocks = t.child("h");
        for (int i = 0; i < config.numLayers(); i++) x = blocks.<Gpt2Block>child(Integer.toString(i)).forward(x, s);
        x = t.<LayerNorm>child("ln_f").forward(x);
        if (cache != null) cache.advance(keyMask);
        Tensor head = config.tieWordEmbeddings() ? t.<Embedding>child("wte").weight() : child("lm_head").parameter("weight");
        return org.peft4j.ops.Linear.linear(x, head, null);
    }

    public static List<ParamSpec> specs(ModelConfig c) {
        List<ParamSpec> s = new ArrayList<>();
        int h = c.hiddenSize(), f = c.intermediateSize();
        s.add(new ParamSpec("transformer.wte.weight", c.vocabSize(), h));
        s.add(new ParamSpec("transformer.wpe.weight", c.maxPositions(), h));
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "transformer.h." + i + ".";
            s.add(new ParamSpec(p + "ln_1.weight", h));
            s.add(new ParamSpec(p + "ln_1.bias", h));
            s.add(new ParamSpec(p + "attn.c_attn.weight", h, 3 * h));
            s.add(new ParamSpec(p + "attn.c_attn.bias", 3 * h));
            s.add(new ParamSpec(p + "attn.c_proj.weight", h, h));
            s.add(new ParamSpec(p + "attn.c_proj.bias", h));
            s.add(new ParamSpec(p + "ln_2.weight", h));
            s.add(new ParamSpec(p + "ln_2.bias", h));
            s.add(new ParamSpec(p + "mlp.c_fc.weight", h, f));
            s.add(new ParamSpec(p + "mlp.c_fc.bias", f));
            s.add(new ParamSpec(p + "mlp.c_proj.weight", f, h));
            s.add(new ParamSpec(p + "mlp.c_proj.bias", h));
        }
        s.add(new ParamSpec("transformer.ln_f.weight", h));
        s.add(new ParamSpec("transformer.ln_f.bias", h));
        if (!c.tieWordEmbeddings()) s.add(new ParamSpec("lm_head.weight", c.vocabSize(), h));
        return s;
    }

}
