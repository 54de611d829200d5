package org.peft4j.models.bert;

import java.util.function.UnaryOperator;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.Weights;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.tensor.Tensor;

/** One encoder layer: attention, then the FFN ({@code intermediate.dense} → act → {@code output}). */
public final class BertLayer extends Module {
    private final UnaryOperator<Tensor> act;

    BertLayer(ModelConfig c, Weights w, String p, int index, double dropout) {
        this.act = Activations.byName(c.hiddenAct());
        registerModule("attention", new BertAttention(c, w, p + "attention.", index, dropout));
        Module intermediate = registerModule("intermediate", new ModuleDict());
        intermediate.registerModule("dense", new Linear(w.get(p + "intermediate.dense.weight"), w.get(p + "intermediate.dense.bias")));
        registerModule("output", new BertSelfOutput(c, w, p + "output.", dropout));
    }

    Tensor forward(Tensor x, ForwardState s) {
        Tensor a = this.<BertAttention>child("attention").forward(x, s);
        Tensor h = act.apply(child("intermediate").<Layer>child("dense").forward(a));
        return this.<BertSelfOutput>child("output").forward(h, a, s);
    }
}
