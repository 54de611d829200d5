package org.peft4j.models;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.gpt2.Gpt2LmHeadModel;
import org.peft4j.models.llama.LlamaForCausalLm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.BFloat16;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Loads a Hugging Face checkpoint folder (config.json + model.safetensors or a sharded index) into the
 * matching architecture. Weights stay memory-mapped unless a storage dtype conversion is asked for.
 */
public final class ModelLoader {
    private ModelLoader() {}

    /**
     * How frozen weights are stored after loading ({@code --dtype}): as in the file (memory-mapped), all
     * converted to f32, or with every matrix (linear weights, embeddings) in bf16, which halves the memory
     * of an f32 checkpoint. bf16 keeps vectors (biases, norm weights) in f32: they are a tiny share of the
     * parameters and are the ones bias or norm training updates.
     */
    public enum WeightStorage {
        AS_STORED, F32, BF16;

        /** {@code --dtype} values: {@code auto} (as stored), {@code f32}/{@code float32}, {@code bf16}/{@code bfloat16}. */
        public static WeightStorage parse(String dtype) {
            return switch (dtype.trim().toLowerCase(Locale.ROOT)) {
                case "auto", "as_stored" -> AS_STORED;
                case "f32", "float32", "fp32" -> F32;
                case "bf16", "bfloat16" -> BF16;
                default -> throw new IllegalArgumentException("unknown weight dtype '" + dtype + "'; valid: auto, f32, bf16");
            };
        }

        /** {@code t} in this storage: a converted copy, or {@code t} itself when nothing changes. */
        Tensor apply(Tensor t) {
            if (!t.dtype().isFloating()) return t;
            DType target = switch (this) {
                case AS_STORED -> t.dtype();
                case F32 -> DType.F32;
                case BF16 -> t.dim() >= 2 ? DType.BF16 : DType.F32;
            };
            if (t.dtype() == target) return t;
            return target == DType.BF16 && t.dtype() == DType.F32 && t.isContiguous() ? f32ToBf16(t) : t.detachedCopy(target);
        }

        /**
         * A contiguous (typically memory-mapped) f32 tensor rounded to bf16 in bulk, chunk by chunk on every
         * core: a 7B checkpoint converts in seconds instead of minutes of per-element access.
         */
        private static Tensor f32ToBf16(Tensor t) {
            int n = Math.toIntExact(t.numel());
            short[] out = new short[n];
            MemorySegment src = t.segment();
            long base = t.offset() * Float.BYTES;
            Parallel.forRange(n, CONVERT_CHUNK, (start, end) -> {
                float[] chunk = new float[Math.min(CONVERT_CHUNK, end - start)];
                for (int from = start; from < end; from += chunk.length) {
                    int len = Math.min(chunk.length, end - from);
                    MemorySegment.copy(src, LE_F32, base + (long) from * Float.BYTES, chunk, 0, len);
                    for (int i = 0; i < len; i++) out[from + i] = BFloat16.fromFloat(chunk[i]);
                }
            });
            return Tensor.wrap(MemorySegment.ofArray(out), DType.BF16, t.shape());
        }
    }

    private static final int CONVERT_CHUNK = 1 << 16;
    private static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Loads {@code dir} with weights as stored in the file. */
    public static PretrainedModel load(Path dir) throws IOException { return load(dir, WeightStorage.AS_STORED); }

    /**
     * Loads a model named the way a user names it: {@code builtin:<name>} for an embedded model, anything
     * else a checkpoint folder (see {@link ModelSource}).
     */
    public static PretrainedModel load(String spec, WeightStorage storage) throws IOException {
        return ModelSource.resolve(spec).load(storage);
    }

    /** Loads the checkpoint folder {@code dir}, storing its weights as {@code storage} says. */
    public static PretrainedModel load(Path dir, WeightStorage storage) throws IOException {
        if (!Files.isDirectory(dir)) throw new IOException(dir + ": not a checkpoint folder");
        ModelConfig config = ModelConfig.load(dir);
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
        try {
            Map<String, Tensor> canonical = canonicalNames(config, checkpoint.tensors());
            canonical.replaceAll((n, t) -> storage.apply(t));
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
                    Set.of(), source), c.hiddenDropout());
            case GPT2 -> new Gpt2LmHeadModel(c, Weights.validate(tensors, Gpt2LmHeadModel.specs(c), List.of(),
                    Set.of(), source), c.hiddenDropout());
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
