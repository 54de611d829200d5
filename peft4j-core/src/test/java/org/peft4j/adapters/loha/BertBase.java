package org.peft4j.adapters.loha;

import java.util.Map;
import org.peft4j.adapters.ModelShape;
import org.peft4j.models.ModelConfig;

/** bert-base-uncased's shape (hidden 768, 12 layers, FFN 3072), for trainable-parameter counts without weights. */
public final class BertBase {
    public static final ModelShape SHAPE = ModelShape.of(ModelConfig.parse("""
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2,
             "hidden_act": "gelu", "layer_norm_eps": 1e-12}""", "bert-base"));

    private BertBase() {}

    /** The number of values in tensors of these shapes. */
    public static long count(Map<String, int[]> shapes) {
        long n = 0;
        for (int[] s : shapes.values()) {
            long k = 1;
            for (int d : s) k *= d;
            n += k;
        }
        return n;
    }
}
