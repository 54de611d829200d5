package org.peft4j.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.gpt2.Gpt2LmHeadModel;
import org.peft4j.models.llama.LlamaForCausalLm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Loads a Hugging Face checkpoint folder (config.json + model.safetensors or a sharded index) into the
 * matching architecture. Weights stay memory-mapped unless a storage dtype conversion is asked for.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /** How frozen weights are stored after loading: as in the file, or converted to bf16/f32. */
    public enum WeightStorage { AS_STORED, F32, BF16 }

    /** Loads {@code dir} with weights as stored in the file. */
    public static PretrainedModel load(Path dir) throws IOException { return load(dir, WeightStorage.AS_STORED); }

    public static PretrainedModel load(Path dir, WeightStorage storage) throws IOException {
        if (!Files.isDirectory(dir)) throw new IOException(dir + ": not a checkpoint folder");
        ModelConfig config = ModelConfig.load(dir);
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
        try {
            Map<String, Tensor> canonical = canonicalNames(config, checkpoint.tensors());
            if (storage != WeightStorage.AS_STORED) {
                DType target = storage == WeightStorage.BF16 ? DType.BF16 : DType.F32;
                canonical.replaceAll((n, t) -> t.dtype() == target || !t.dtype().isFloating() ? t : t.detachedCopy(target));
            }
            Module model = build(config, canonical, checkpoint.source().toString());
            return new PretrainedModel(config, model, checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** Builds the architecture from tensors already under canonical names (also used by imports). */
    public static Module build(ModelConfig c, Map<String, Tensor> tensors, String source) {
        return switch (c.architecture()) {
            case BERT -> new BertModel(c, Weights.validate(tensors, BertModel.specs(c), List.of(BertModel.poolerSpecs(c)),
                    Set.of(), source), 0.0);
            case GPT2 -> new Gpt2LmHeadModel(c, Weights.validate(tensors, Gpt2LmHeadModel.specs(c), List.of(),
                    Set.of(), source), 0.0);
            case LLAMA -> new LlamaForCausalLm(c, Weights.validate(tensors, LlamaForCausalLm.specs(c), List.of(),
                    Set.of(), source));
        };
    }

    /** Every parameter the architecture has for this config (what {@code summary} counts). */
    public static List<ParamSpec> specs(ModelConfig c) {
        return switch (c.architecture()) {
            case BERT -> {
                List<ParamSpec> s = new java.util.ArrayList<>(BertModel.specs(c));
                s.addAll(BertModel.poolerSpecs(c));
                yield s;
            }
            case GPT2 -> Gpt2LmHeadModel.specs(c);
            case LLAMA -> LlamaForCausalLm.specs(c);
        };
    }

    /**
     * Maps the names real checkpoints use onto the model's: task-model prefixes ({@code bert.},
     * {@code roberta.}), GPT-2's prefix-less originals, legacy LayerNorm {@code gamma/beta}; drops
     * buffers and pretraining heads that are not part of the base model.
     */
    static Map<String, Tensor> canonicalNames(ModelConfig c, Map<String, Tensor> raw) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : raw.entrySet()) {
            String name = e.getKey();
            switch (c.architecture()) {
                case BERT -> {
                    for (String prefix : List.of("bert.", "roberta.", c.modelType() + ".")) {
                        if (name.startsWith(prefix)) name = name.substring(prefix.length());
                    }
                    if (name.startsWith("cls.") || name.startsWith("lm_head.") || name.startsWith("classifier.")
                            || name.endsWith("position_ids")) continue;
                    name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias");
                }
                case GPT2 -> {
                    if (name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias")) continue;
                    if (!name.startsWith("transformer.") && !name.equals("lm_head.weight")) name = "transformer." + name;
                    if (name.equals("lm_head.weight") && c.tieWordEmbeddings()) continue;
                }
                case LLAMA -> {
                    if (name.endsWith("rotary_emb.inv_freq")) continue;
                    if (name.equals("lm_head.weight") && c.tieWordEmbeddings()) continue;
                }
            }
            out.put(name, e.getValue());
        }
        return out;
    }
}
