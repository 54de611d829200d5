package org.peft4j.adapters.loha;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoHa as Hugging Face PEFT defines it: on each targeted linear layer the update
 * {@code (w1_a·w1_b) ⊙ (w2_a·w2_b) · α/r} is added to the weight. w1_a, w1_b, w2_a start kaiming-uniform and
 * w2_b at zero ({@code init_weights=true}), so a new adapter leaves the model unchanged; with
 * {@code init_weights=false} all four are random. Reads and writes PEFT folders ({@code peft_type} LOHA).
 */
public final class LohaMethod implements AdapterMethod, PeftFormatSupport {
    public static final String NAME = "loha";
    private static final PeftLayerKeys KEYS = new PeftLayerKeys(LohaLinear.CONTAINERS);

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return LohaConfig.read(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        LycorisOptions o = options(config);
        SplittableRandom rng = new SplittableRandom(seed);
        for (String path : o.resolveTargets(model.config(), NAME).select(model.linearLayers(), NAME)) {
            AdaptedLinear layer = model.adaptedLinear(path);
            int out = layer.outFeatures(), in = layer.inFeatures(), r = o.rank(path);
            DType type = layer.base().weight().computeType();
            SplittableRandom init = rng.split();
            register(layer, "hada_w1_a", adapterName, Init.kaimingUniform(init, type, out, r));
            register(layer, "hada_w1_b", adapterName, Init.kaimingUniform(init, type, r, in));
            register(layer, "hada_w2_a", adapterName, Init.kaimingUniform(init, type, out, r));
            register(layer, "hada_w2_b", adapterName, o.initWeights() ? Init.zeros(type, r, in) : Init.kaimingUniform(init, type, r, in));
            layer.add(adapterName, new LohaLinear(adapterName, o.alpha(path) / r, o.rankDropout(), o.moduleDropout(), init.nextLong()));
        }
        return List.of();
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        LycorisOptions o = options(config);
        Map<String, int[]> linear = model.linearModules();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String path : o.resolveTargets(model.config(), NAME).select(linear, NAME)) {
            int out = linear.get(path)[0], in = linear.get(path)[1], r = o.rank(path);
            shapes.put(path + ".hada_w1_a." + adapterName, new int[] {out, r});
            shapes.put(path + ".hada_w1_b." + adapterName, new int[] {r, in});
            shapes.put(path + ".hada_w2_a." + adapterName, new int[] {out, r});
            shapes.put(path + ".hada_w2_b." + adapterName, new int[] {r, in});
        }
        return shapes;
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("LOHA"); }

    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) { return PeftLayerKeys.fromPeft(NAME, peftConfig, LohaConfig::read); }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) {
        ObjectNode fields = JsonNodeFactory.instance.objectNode();
        options(config).writeTo(fields);
        return PeftLayerKeys.peftConfig("LOHA", fields);
    }

    @Override
    public String treeName(String peftKey, String adapterName) { return KEYS.treeName(peftKey, adapterName); }

    @Override
    public String peftKey(String treeName, String adapterName) { return KEYS.peftKey(treeName, adapterName); }

    @Override
    public String peftMemoryName(String peftKey, String adapterName) { return KEYS.memoryName(peftKey, adapterName); }

    private static LycorisOptions options(MethodConfig config) {
        if (!(config instanceof LohaConfig c)) throw new IllegalArgumentException(NAME + " cannot use a " + config.method() + " config");
        return c.options();
    }

    /** Puts a trainable tensor at {@code <layer>.<container>.<adapter>}. */
    private static void register(AdaptedLinear layer, String container, String adapterName, Tensor t) {
        layer.container(container).registerParameter(adapterName, t);
    }
}
