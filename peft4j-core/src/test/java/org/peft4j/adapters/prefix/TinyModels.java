package org.peft4j.adapters.prefix;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.peft4j.adapters.PeftModel;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ParamSpec;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Very small random models (float64 for gradient checks) and helpers to move an adapter's tensors to float64. */
public final class TinyModels {
    private TinyModels() {}

    /** A two-layer config of the given type: hidden 8, 4 query heads over {@code kvHeads} key/value heads, vocabulary 13. */
    public static ModelConfig config(String modelType, int kvHeads) { return config(modelType, kvHeads, 13); }

    /** As {@link #config(String, int)} with a vocabulary of {@code vocab} tokens. */
    public static ModelConfig config(String modelType, int kvHeads, int vocab) {
        String extra = switch (modelType) {
            case "gpt2" -> "\"n_positions\": 32, \"activation_function\": \"gelu_new\"";
            case "bert" -> "\"intermediate_size\": 12, \"max_position_embeddings\": 32, \"type_vocab_size\": 2";
            default -> "\"intermediate_size\": 12, \"max_position_embeddings\": 32, \"num_key_value_heads\": " + kvHeads;
        };
        return ModelConfig.parse("{\"model_type\": \"" + modelType + "\", \"hidden_size\": 8, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"vocab_size\": " + vocab + ", " + extra + "}", "tiny-" + modelType);
    }

    /** A model of {@code config} with weights N(0, 0.5²) (norm scales around 1) in {@code dtype}, wrapped for adapters. */
    public static PeftModel model(ModelConfig config, DType dtype, long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (ParamSpec s : ModelLoader.specs(config)) {
            boolean norm = s.shape().length == 1 && (s.name().contains("norm") || s.name().contains("ln_") || s.name().endsWith("LayerNorm.weight"));
            Tensor t = Tensor.zeros(dtype, s.shape());
            for (long i = 0; i < t.numel(); i++) t.setFlat(i, (norm ? 1 : 0) + 0.5 * r.nextGaussian());
            tensors.put(s.name(), t);
        }
        return new PeftModel(ModelLoader.build(config, tensors, "tiny"), config);
    }

    /** Replaces every tensor of adapter {@code name} by a float64 copy that requires a gradient; returns them in order. */
    public static Tensor[] toF64(PeftModel model, String name) {
        Map<String, Tensor> params = model.adapterParameters(name);
        Tensor[] out = new Tensor[params.size()];
        int i = 0;
        for (String path : params.keySet()) {
            Tensor copy = params.get(path).detachedCopy(DType.F64).requiresGrad(true);
            int dot = path.lastIndexOf('.');
            Module owner = model.extras().module(path.substring(0, dot));
            owner.registerParameter(path.substring(dot + 1), copy);
            out[i++] = copy;
        }
        return out;
    }
}
