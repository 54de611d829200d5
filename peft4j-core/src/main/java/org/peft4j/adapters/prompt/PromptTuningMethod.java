package org.peft4j.adapters.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.adapters.prefix.PeftConfigFields;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.CausalLm;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.HfTokenizer;

/**
 * Hugging Face PEFT's prompt tuning ({@code prompt_tuning}, alias {@code prompt}) for decoders:
 * {@code num_virtual_tokens} trainable embeddings that {@link PeftModel#logits} puts before the real
 * tokens (the output gains those positions, the mask is extended by ones). Saved by PEFT as
 * {@code prompt_embeddings} [n, hidden].
 */
public final class PromptTuningMethod implements AdapterMethod, PeftFormatSupport {
    static final String SAVED_KEY = "prompt_embeddings";

    @Override
    public String name() { return PromptTuningConfig.NAME; }

    @Override
    public List<String> aliases() { return List.of("prompt"); }

    @Override
    public MethodConfig parse(ConfigArgs args) { return PromptTuningConfig.parse(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        ModelConfig m = model.config();
        if (!m.architecture().isDecoder() || !(model.base() instanceof CausalLm lm)) {
            throw new IllegalArgumentException(c.method() + " needs a decoder model: peft4j's encoder forward does not prepend virtual tokens ("
                    + m.modelType() + ")");
        }
        checkSizes(c, m);
        SplittableRandom rng = new SplittableRandom(seed);
        int n = c.numVirtualTokens(), h = m.hiddenSize();
        Tensor embedding = switch (c.init()) {
            case "RANDOM" -> {
                float[] v = new float[n * h];
                for (int i = 0; i < v.length; i++) v[i] = (float) rng.nextGaussian();
                yield Tensor.of(v, n, h);
            }
            case "SAMPLE_VOCAB" -> {
                long[] ids = new long[n];
                for (int i = 0; i < n; i++) ids[i] = rng.nextInt(m.vocabSize());
                yield tokenEmbeddings(lm, ids);
            }
            default -> tokenEmbeddings(lm, textIds(c, m.vocabSize()));
        };
        PromptEmbedding prompt = new PromptEmbedding(embedding);
        prompt.requiresGrad(true);
        Module parent = model.extras();
        if (!parent.hasChild("prompt_encoder")) parent.registerModule("prompt_encoder", new ModuleDict());
        parent.child("prompt_encoder").registerModule(adapterName, prompt);
        model.registerPrompt(adapterName, prompt);
        return List.of();
    }

    private static void checkSizes(PromptTuningConfig c, ModelConfig m) {
        check(c, "token_dim", c.tokenDim(), m.hiddenSize());
        check(c, "num_layers", c.numLayers(), m.numLayers());
        check(c, "num_attention_heads", c.numAttentionHeads(), m.numHeads());
    }

    private static void check(PromptTuningConfig c, String field, int given, int model) {
        if (given != 0 && given != model) throw new IllegalArgumentException(c.method() + ": " + field + " is " + given + ", but this model has " + model);
    }

    /** Rows of the model's input embedding table (a fresh trainable copy), one per id. */
    private static Tensor tokenEmbeddings(CausalLm lm, long[] ids) {
        try (var s = GradMode.noGrad()) {
            Tensor rows = lm.embed(Tensor.of(ids, 1, ids.length));
            return rows.reshape(ids.length, rows.size(2)).detachedCopy(DType.F32);
        }
    }

    /** PEFT's TEXT init: the text's token ids (special tokens included), cut or repeated to num_virtual_tokens. */
    private static long[] textIds(PromptTuningConfig c, int vocab) {
        Path path = Path.of(c.tokenizerNameOrPath());
        if (!Files.exists(path)) {
            throw new IllegalArgumentException(c.method() + ": tokenizer_name_or_path '" + c.tokenizerNameOrPath() + "' is not a local"
                    + " tokenizer.json or folder; peft4j reads tokenizers offline (or use prompt_tuning_init RANDOM or SAMPLE_VOCAB)");
        }
        long[] text;
        try (HfTokenizer tokenizer = HfTokenizer.fromFile(path)) {
            text = tokenizer.encode(c.initText());
        } catch (IOException e) {
            throw new IllegalArgumentException(c.method() + ": cannot read tokenizer " + path + ": " + e.getMessage(), e);
        }
        if (text.length == 0) throw new IllegalArgumentException(c.method() + ": prompt_tuning_init_text gives no tokens");
        long[] ids = new long[c.numVirtualTokens()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = text[i % text.length];
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(c.method() + ": tokenizer gives id " + ids[i] + " for the init text, outside this model's"
                        + " vocabulary of " + vocab);
            }
        }
        return ids;
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        checkSizes(c, model.config());
        Map<String, int[]> out = new LinkedHashMap<>();
        out.put(PromptEmbedding.path(adapterName) + ".embedding.weight", new int[] {c.numVirtualTokens(), model.config().hiddenSize()});
        return out;
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("PROMPT_TUNING"); }

    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) {
        ConfigArgs args = ConfigArgs.fromJson(PromptTuningConfig.NAME, PeftConfigFields.withoutBookkeeping(peftConfig, "PROMPT_TUNING"));
        PromptTuningConfig c = PromptTuningConfig.parse(args);
        args.finish();
        return c;
    }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putNull("auto_mapping");
        o.putNull("base_model_name_or_path");
        o.put("inference_mode", true);
        o.putNull("modules_to_save");
        PromptTuningConfig.putSize(o, "num_attention_heads", c.numAttentionHeads());
        PromptTuningConfig.putSize(o, "num_layers", c.numLayers());
        o.put("num_transformer_submodules", 1);
        o.put("num_virtual_tokens", c.numVirtualTokens());
        o.put("peft_type", "PROMPT_TUNING");
        o.put("prompt_tuning_init", c.init());
        o.put("prompt_tuning_init_text", c.initText());
        o.putNull("revision");
        o.put("task_type", c.taskType());
        PromptTuningConfig.putSize(o, "token_dim", c.tokenDim());
        o.putNull("tokenizer_kwargs");
        o.put("tokenizer_name_or_path", c.tokenizerNameOrPath());
        return o;
    }

    @Override
    public String treeName(String peftKey, String adapterName) {
        return SAVED_KEY.equals(peftKey) ? PromptEmbedding.path(adapterName) + ".embedding.weight" : null;
    }

    @Override
    public String peftKey(String treeName, String adapterName) {
        if (treeName.equals(PromptEmbedding.path(adapterName) + ".embedding.weight")) return SAVED_KEY;
        throw new IllegalArgumentException("'" + treeName + "' is not a tensor of prompt adapter '" + adapterName + "'");
    }

    /** PEFT's in-memory name of the prompt: {@code prompt_encoder.<adapter>.embedding.weight}. */
    @Override
    public String peftMemoryName(String peftKey, String adapterName) {
        return PromptEmbedding.path(adapterName) + ".embedding.weight";
    }
}
