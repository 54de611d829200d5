package org.peft4j.adapters.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.models.ParamSpec;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * LoRA ({@code lora}) and DoRA ({@code dora} = LoRA with {@code use_dora=true}) on the linear layers
 * the config targets, with PEFT's and AdapterHub's file formats.
 */
public final class LoraMethod implements AdapterMethod, PeftFormatSupport, AdapterHubFormatSupport {

    @Override
    public String name() { return "lora"; }

    /** {@code dora} parses to the same config with {@code use_dora} on by default. */
    @Override
    public List<String> aliases() { return List.of("dora"); }

    @Override
    public MethodConfig parse(ConfigArgs args) { return LoraConfig.parse(args); }

    /**
     * Wraps every targeted layer and adds the adapter's tensors (A, B, DoRA's magnitude, AdapterHub's
     * gate), seeded from {@code seed}. Bias modes make biases trainable, as private copies (the loaded
     * ones may be read-only mapped files); their names are returned.
     */
    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        LoraConfig c = lora(config);
        List<String> paths = c.select(model.config().architecture(), model.linearLayers());
        SplittableRandom root = new SplittableRandom(seed);
        List<String> trainableBiases = new ArrayList<>();
        for (String path : paths) {
            AdaptedLinear layer = model.adaptedLinear(path);
            LoraLayer.attach(layer, adapterName, c.rankFor(path), c.scalingFor(path), c.dropout(), c.useDora(), c.useGating(),
                    c.init(), root.split());
            if (c.bias() == LoraConfig.Bias.LORA_ONLY && layer.base().bias() != null) {
                makeTrainable(layer.base(), "bias");
                trainableBiases.add(path + ".base_layer.bias");
            }
        }
        if (c.bias() == LoraConfig.Bias.ALL) trainableBiases.addAll(unfreezeAllBiases(model, adapterName));
        return trainableBiases;
    }

    /** PEFT's bias="all": every parameter with "bias" in its name, except other adapters' own. */
    private static List<String> unfreezeAllBiases(PeftModel model, String adapterName) {
        Set<String> others = new HashSet<>();
        for (String n : model.adapterNames()) if (!n.equals(adapterName)) others.addAll(model.adapter(n).parameterNames());
        List<String> out = new ArrayList<>();
        for (String name : model.base().namedParameters().keySet()) {
            String last = name.substring(name.lastIndexOf('.') + 1);
            if (!last.contains("bias") || others.contains(name) || name.contains(".lora_")) continue;
            int dot = name.lastIndexOf('.');
            makeTrainable(dot < 0 ? model.base() : model.base().module(name.substring(0, dot)), last);
            out.add(name);
        }
        return out;
    }

    /** Gives {@code owner.param} a private heap copy (unless it has one) that requires a gradient. */
    private static void makeTrainable(Module owner, String param) {
        Tensor t = owner.parameter(param);
        boolean heap = t.heapFloats() != null || t.heapDoubles() != null;
        if (!heap) t = owner.registerParameter(param, t.detachedCopy(t.computeType()));
        t.requiresGrad(true);
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        LoraConfig c = lora(config);
        Map<String, int[]> linear = model.linearModules();
        Map<String, int[]> params = new LinkedHashMap<>();
        for (ParamSpec p : model.parameters()) params.put(p.name(), p.shape());
        Map<String, int[]> out = new LinkedHashMap<>();
        List<String> selected = c.select(model.config().architecture(), linear);
        for (String path : selected) {
            int o = linear.get(path)[0], in = linear.get(path)[1], r = c.rankFor(path);
            out.put(path + ".lora_A." + adapterName + ".weight", new int[] {r, in});
            out.put(path + ".lora_B." + adapterName + ".weight", new int[] {o, r});
            if (c.useDora()) out.put(path + ".lora_magnitude_vector." + adapterName + ".weight", new int[] {o});
            if (c.useGating()) {
                out.put(path + ".lora_gate." + adapterName + ".weight", new int[] {1, in});
                out.put(path + ".lora_gate." + adapterName + ".bias", new int[] {1});
            }
            if (c.bias() == LoraConfig.Bias.LORA_ONLY && params.containsKey(path + ".bias")) {
                out.put(path + ".base_layer.bias", params.get(path + ".bias"));
            }
        }
        if (c.bias() == LoraConfig.Bias.ALL) {
            for (ParamSpec p : model.parameters()) {
                int dot = p.name().lastIndexOf('.');
                if (!p.name().substring(dot + 1).contains("bias")) continue;
                // an adapted layer keeps its original under base_layer
                boolean adapted = dot > 0 && selected.contains(p.name().substring(0, dot));
                out.put(adapted ? p.name().substring(0, dot) + ".base_layer" + p.name().substring(dot) : p.name(), p.shape());
            }
        }
        return out;
    }

    private static LoraConfig lora(MethodConfig config) {
        if (config instanceof LoraConfig c) return c;
        throw new IllegalArgumentException("lora: expected a LoRA config, got " + config.method());
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("LORA"); }

    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) { return LoraPeftFormat.fromPeftConfig(peftConfig); }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) { return LoraPeftFormat.toPeftConfig(lora(config)); }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config, org.peft4j.models.ModelConfig model) {
        return LoraPeftFormat.toPeftConfig(lora(config).resolvedFor(model.architecture()));
    }

    /**
     * The tree name of a saved key of either format (both interfaces declare this method): PEFT keys
     * start with {@code base_model.model.}; AdapterHub keys ({@code <module>.loras.<saved name>.lora_A})
     * map to {@code <module>.lora_A.<adapterName>.weight}, likewise lora_B and the gate. Null if the key
     * is not LoRA's.
     */
    @Override
    public String treeName(String key, String adapterName) {
        if (key.startsWith(LoraPeftFormat.PREFIX)) return LoraPeftFormat.treeName(key, adapterName);
        return LoraHubFormat.treeName(key, adapterName);
    }

    @Override
    public String peftKey(String treeName, String adapterName) { return LoraPeftFormat.peftKey(treeName, adapterName); }

    /** Biases keep their saved name in memory; the magnitude is {@code lora_magnitude_vector.<adapter>.weight}. */
    @Override
    public String peftMemoryName(String peftKey, String adapterName) { return LoraPeftFormat.memoryName(peftKey, adapterName); }

    // ------------------------------------------------------------------ AdapterHub files

    /** AdapterHub's LoRA: architecture "lora" in composition mode "add" (mode "scale" is its IA3). */
    @Override
    public boolean accepts(JsonNode adapterHubConfig) { return LoraHubFormat.accepts(adapterHubConfig); }

    @Override
    public MethodConfig fromAdapterHubConfig(JsonNode adapterHubConfig) { return LoraHubFormat.fromAdapterHubConfig(adapterHubConfig); }
}
