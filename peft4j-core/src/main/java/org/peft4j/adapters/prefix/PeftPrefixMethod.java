package org.peft4j.adapters.prefix;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.Tensor;

/**
 * Hugging Face PEFT's prefix tuning ({@code prefix}): {@code num_virtual_tokens} keys and values per
 * layer and key/value head handed to the model as a cache, so the real tokens' positions start after
 * them. PEFT saves the prefixes as {@code prompt_embeddings} [n, L·2·token_dim]; with
 * {@code prefix_projection} it saves the MLP's output, so a loaded folder always holds flat prefixes.
 */
public final class PeftPrefixMethod implements AdapterMethod, PeftFormatSupport {
    static final String SAVED_KEY = "prompt_embeddings";

    @Override
    public String name() { return PeftPrefixConfig.NAME; }

    @Override
    public List<String> aliases() { return List.of("peft_prefix"); }

    @Override
    public MethodConfig parse(ConfigArgs args) { return PeftPrefixConfig.parse(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        PeftPrefixConfig c = (PeftPrefixConfig) config;
        PeftPrefixConfig.Dims d = c.dims(model.config());
        SplittableRandom rng = new SplittableRandom(seed);
        boolean zero = "zero".equals(c.initWeights());
        PrefixEncoder encoder;
        if (c.prefixProjection()) {
            int h = d.encoderHidden(), t = d.tokenDim(), w = d.width();
            Tensor embedding = Init.normal(rng, d.tokens(), t);
            Linear first = new Linear(Init.linearUniform(rng, t, h, t), Init.linearUniform(rng, t, h));
            Linear second = zero ? new Linear(Init.zeros(w, h), Init.zeros(w))
                    : new Linear(Init.linearUniform(rng, h, w, h), Init.linearUniform(rng, h, w));
            encoder = PrefixEncoder.projected(embedding, first, second, d.layers(), d.kvHeads(), d.headDim());
        } else {
            Tensor embedding = zero ? Init.zeros(d.tokens(), d.width()) : Init.normal(rng, d.tokens(), d.width());
            encoder = PrefixEncoder.flat(embedding, d.layers(), d.kvHeads(), d.headDim());
        }
        encoder.requiresGrad(true);
        Module parent = model.extras();
        if (!parent.hasChild("prompt_encoder")) parent.registerModule("prompt_encoder", new ModuleDict());
        parent.child("prompt_encoder").registerModule(adapterName, encoder);
        model.registerPrefix(adapterName, encoder);
        return List.of();
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        PeftPrefixConfig c = (PeftPrefixConfig) config;
        PeftPrefixConfig.Dims d = c.dims(model.config());
        String p = PrefixEncoder.path(adapterName) + ".";
        Map<String, int[]> out = new LinkedHashMap<>();
        if (!c.prefixProjection()) {
            out.put(p + "embedding.weight", new int[] {d.tokens(), d.width()});
            return out;
        }
        out.put(p + "embedding.weight", new int[] {d.tokens(), d.tokenDim()});
        out.put(p + "transform.0.weight", new int[] {d.encoderHidden(), d.tokenDim()});
        out.put(p + "transform.0.bias", new int[] {d.encoderHidden()});
        out.put(p + "transform.2.weight", new int[] {d.width(), d.encoderHidden()});
        out.put(p + "transform.2.bias", new int[] {d.width()});
        return out;
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("PREFIX_TUNING"); }

    /** A saved folder holds the prefixes themselves (the projection's output, if any), so the config is the flat one. */
    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) {
        ConfigArgs args = ConfigArgs.fromJson(PeftPrefixConfig.NAME, PeftConfigFields.withoutBookkeeping(peftConfig, "PREFIX_TUNING"));
        PeftPrefixConfig c = PeftPrefixConfig.parse(args);
        args.finish();
        return c.asFlat();
    }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) {
        PeftPrefixConfig c = (PeftPrefixConfig) config;
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putNull("auto_mapping");
        o.putNull("base_model_name_or_path");
        PeftPrefixConfig.putSize(o, "encoder_hidden_size", c.encoderHiddenSize());
        o.put("inference_mode", true);
        o.put("init_weights", c.initWeights());
        o.putNull("modules_to_save");
        PeftPrefixConfig.putSize(o, "num_attention_heads", c.numAttentionHeads());
        PeftPrefixConfig.putSize(o, "num_layers", c.numLayers());
        o.put("num_transformer_submodules", 1);
        o.put("num_virtual_tokens", c.numVirtualTokens());
        o.put("peft_type", "PREFIX_TUNING");
        o.put("prefix_projection", c.prefixProjection());
        o.putNull("revision");
        o.put("task_type", c.taskType());
        PeftPrefixConfig.putSize(o, "token_dim", c.tokenDim());
        return o;
    }

    @Override
    public String treeName(String peftKey, String adapterName) {
        return SAVED_KEY.equals(peftKey) ? PrefixEncoder.path(adapterName) + ".embedding.weight" : null;
    }

    @Override
    public String peftKey(String treeName, String adapterName) {
        String p = PrefixEncoder.path(adapterName);
        if (treeName.equals(p + ".embedding.weight")) return SAVED_KEY;
        if (treeName.startsWith(p + ".transform.")) {
            throw new IllegalArgumentException("adapter '" + adapterName + "' trains its prefix through PEFT's projection; PEFT saves only"
                    + " the projection's output: call PrefixEncoder.eject(model, \"" + adapterName + "\") before saving it as a PEFT folder");
        }
        throw new IllegalArgumentException("'" + treeName + "' is not a tensor of prefix adapter '" + adapterName + "'");
    }

    /** PEFT's in-memory name of the prefixes: {@code prompt_encoder.<adapter>.embedding.weight}. */
    @Override
    public String peftMemoryName(String peftKey, String adapterName) {
        return PrefixEncoder.path(adapterName) + ".embedding.weight";
    }
}
