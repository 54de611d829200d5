package org.peft4j.adapters.lokr;

import com.fasterxml.jackson.databind.JsonNode;
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
import org.peft4j.adapters.loha.Init;
import org.peft4j.adapters.loha.LycorisOptions;
import org.peft4j.adapters.loha.PeftLayerKeys;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * LoKr as Hugging Face PEFT defines it: on each targeted linear layer the update {@code kron(w1, w2) · α/r} is
 * added to the weight, the layer sizes split by {@link Factorization}. With {@code init_weights=true} w1 (or
 * its left factor w1_a) starts at zero and everything else kaiming-uniform, so a new adapter leaves the model
 * unchanged; with {@code init_weights=false} all factors are random. Reads and writes PEFT folders
 * ({@code peft_type} LOKR).
 */
public final class LokrMethod implements AdapterMethod, PeftFormatSupport {
    public static final String NAME = "lokr";
    private static final PeftLayerKeys KEYS = new PeftLayerKeys(LokrLinear.CONTAINERS);

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return LokrConfig.read(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        LokrConfig c = config(config);
        LycorisOptions o = c.options();
        SplittableRandom rng = new SplittableRandom(seed);
        for (String path : o.resolveTargets(model.config(), NAME).select(model.linearLayers(), NAME)) {
            AdaptedLinear layer = model.adaptedLinear(path);
            LokrShapes shapes = c.shapes(path, layer.outFeatures(), layer.inFeatures());
            DType type = layer.base().weight().computeType();
            SplittableRandom init = rng.split();
            shapes.containers().forEach((container, shape) -> {
                boolean zero = o.initWeights() && (container.equals("lokr_w1") || container.equals("lokr_w1_a"));
                Tensor t = zero ? Init.zeros(type, shape[0], shape[1]) : Init.kaimingUniform(init, type, shape[0], shape[1]);
                layer.container(container).registerParameter(adapterName, t);
            });
            layer.add(adapterName, new LokrLinear(adapterName, o.alpha(path) / shapes.r(), shapes.fullW1(), shapes.fullW2(),
                    o.rankDropout(), c.rankDropoutScale(), o.moduleDropout(), init.nextLong()));
        }
        return List.of();
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        LokrConfig c = config(config);
        Map<String, int[]> linear = model.linearModules();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String path : c.options().resolveTargets(model.config(), NAME).select(linear, NAME)) {
            c.shapes(path, linear.get(path)[0], linear.get(path)[1]).containers()
                    .forEach((container, shape) -> shapes.put(path + "." + container + "." + adapterName, shape));
        }
        return shapes;
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("LOKR"); }

    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) { return PeftLayerKeys.fromPeft(NAME, peftConfig, LokrConfig::read); }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) {
        return PeftLayerKeys.peftConfig("LOKR", config(config).toJson());
    }

    @Override
    public String treeName(String peftKey, String adapterName) { return KEYS.treeName(peftKey, adapterName); }

    @Override
    public String peftKey(String treeName, String adapterName) { return KEYS.peftKey(treeName, adapterName); }

    @Override
    public String peftMemoryName(String peftKey, String adapterName) { return KEYS.memoryName(peftKey, adapterName); }

    private static LokrConfig config(MethodConfig config) {
        if (!(config instanceof LokrConfig c)) throw new IllegalArgumentException(NAME + " cannot use a " + config.method() + " config");
        return c;
    }
}
