package org.peft4j.models.bert;

import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/** {@code attention.self} followed by {@code attention.output}. */
public final class BertAttention extends Module {
    BertAttention(ModelConfig c, Weights w, String p, int layerIndex, double dropout) {
        registerModule("self", new BertSelfAttention(c, w, p + "self.", layerIndex));
        registerModule("output", new BertSelfOutput(c, w, p + "output.", dropout));
    }

    Tensor forward(Tensor x, ForwardState s) {
        Tensor h = this.<BertSelfAttention>child("self").forward(x, s);
        return this.<BertSelfOutput>child("output").forward(h, x, s);
    }
}
