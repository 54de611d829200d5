package org.peft4j.models.bert;

import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * A post-LN sublayer's output: {@code LN(x + dropout(dense(h)))}. Used for both {@code attention.output}
 * and the FFN's {@code output}, which differ only in their sizes.
 */
public final class BertSelfOutput extends Module {
    private final double dropout;

    BertSelfOutput(ModelConfig c, Weights w, String p, double dropout) {
        this.dropout = dropout;
        registerModule("dense", new Linear(w.get(p + "dense.weight"), w.get(p + "dense.bias")));
        registerModule("LayerNorm", new LayerNorm(w.get(p + "LayerNorm.weight"), w.get(p + "LayerNorm.bias"), c.normEps()));
    }

    /** {@code h} is the sublayer's inner activation, {@code x} the residual input. */
    Tensor forward(Tensor h, Tensor x, ForwardState s) {
        Tensor out = s.dropout(this.<Layer>child("dense").forward(h), dropout);
        return AdapterSite.combine(this, "adapters", out, x, child("LayerNorm"), s);
    }
}
