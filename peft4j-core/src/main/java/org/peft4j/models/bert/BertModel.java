package org.peft4j.models.bert;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ParamSpec;
import org.peft4j.models.Weights;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.tensor.Tensor;

/**
 * Hugging Face's BertModel (also RoBERTa, MiniLM, bge, e5): embeddings, post-LN encoder layers and an
 * optional pooler (dense + tanh over the first token).
 */
public final class BertModel extends Module {
    private final ModelConfig config;
    private final double dropout;

    public BertModel(ModelConfig c, Weights w, double dropout) {
        this.config = c;
        this.dropout = dropout;
        registerModule("embeddings", new BertEmbeddings(c, w, "embeddings.", dropout));
        Module encoder = registerModule("encoder", new ModuleDict());
        Module layers = encoder.registerModule("layer", new ModuleDict());
        for (int i = 0; i < c.numLayers(); i++) {
            layers.registerModule(Integer.toString(i), new BertLayer(c, w, "encoder.layer." + i + ".", i, dropout));
        }
        if (w.has("pooler.dense.weight")) {
            Module pooler = registerModule("pooler", new ModuleDict());
            pooler.registerModule("dense", new Linear(w.get("pooler.dense.weight"), w.get("pooler.dense.bias")));
        }
    }

    public ModelConfig config() { return config; }

    public double dropout() { return dropout; }

    public int numLayers() { return config.numLayers(); }

    public BertLayer layer(int i) { return child("encoder").child("layer").child(Integer.toString(i)); }

    public boolean hasPooler() { return hasChild("pooler"); }

    /** The last hidden state [B, T, H]; {@code cache} may carry prefix keys/values (or be null). */
    public Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, KvCache cache, RandomGenerator rng) {
        int past = cache == null ? 0 : cache.positionOffset();
        Tensor keyMask = cache == null ? attentionMask : cache.fullMask(attentionMask);
        ForwardState s = new ForwardState(keyMask, cache, isTraining(), rng);
        Tensor x = this.<BertEmbeddings>child("embeddings").forward(inputIds, tokenTypeIds, past, s);
        for (int i = 0; i < config.numLayers(); i++) x = layer(i).forward(x, s);
        if (cache != null) cache.advance(keyMask);
        return x;
    }

    /** The pooler's output tanh(dense(h[:, 0])) [B, H]. */
    public Tensor pool(Tensor lastHidden) {
        if (!hasPooler()) throw new IllegalStateException("this checkpoint has no pooler weights");
        Tensor first = lastHidden.narrow(1, 0, 1).reshape(lastHidden.size(0), lastHidden.size(2));
        return Activations.tanh(child("pooler").<org.peft4j.nn.Layer>child("dense").forward(first));
    }

    /** Every parameter of a BertModel with this config; the pooler is an optional group. */
    public static List<ParamSpec> specs(ModelConfig c) {
        List<ParamSpec> s = new ArrayList<>();
        int h = c.hiddenSize(), f = c.intermediateSize();
        s.add(new ParamSpec("embeddings.word_embeddings.weight", c.vocabSize(), h));
        s.add(new ParamSpec("embeddings.position_embeddings.weight", c.maxPositions(), h));
        s.add(new ParamSpec("embeddings.token_type_embeddings.weight", c.typeVocabSize(), h));
        s.add(new ParamSpec("embeddings.LayerNorm.weight", h));
        s.add(new ParamSpec("embeddings.LayerNorm.bias", h));
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "encoder.layer." + i + ".";
            for (String n : new String[] {"query", "key", "value"}) {
                s.add(new ParamSpec(p + "attention.self." + n + ".weight", h, h));
                s.add(new ParamSpec(p + "attention.self." + n + ".bias", h));
            }
            s.add(new ParamSpec(p + "attention.output.dense.weight", h, h));
            s.add(new ParamSpec(p + "attention.output.dense.bias", h));
            s.add(new ParamSpec(p + "attention.output.LayerNorm.weight", h));
            s.add(new ParamSpec(p + "attention.output.LayerNorm.bias", h));
            s.add(new ParamSpec(p + "intermediate.dense.weight", f, h));
            s.add(new ParamSpec(p + "intermediate.dense.bias", f));
            s.add(new ParamSpec(p + "output.dense.weight", h, f));
            s.add(new ParamSpec(p + "output.dense.bias", h));
            s.add(new ParamSpec(p + "output.LayerNorm.weight", h));
            s.add(new ParamSpec(p + "output.LayerNorm.bias", h));
        }
        return s;
    }

    public static List<ParamSpec> poolerSpecs(ModelConfig c) {
        return List.of(new ParamSpec("pooler.dense.weight", c.hiddenSize(), c.hiddenSize()),
                new ParamSpec("pooler.dense.bias", c.hiddenSize()));
    }
}
