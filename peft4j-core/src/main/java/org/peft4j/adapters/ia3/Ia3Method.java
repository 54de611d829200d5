package org.peft4j.adapters.ia3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.PeftFormatSupport;
import org.peft4j.adapters.loha.PeftLayerKeys;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's (IA)³ ({@code ia3}, see {@link Ia3Config}): one vector per targeted layer, at
 * {@code <module>.ia3_l.<name>}. Reads and writes PEFT folders ({@code peft_type} IA3). AdapterHub's IA3,
 * which scales other places, is the separate method {@link AdapterHubIa3Method}.
 */
public final class Ia3Method implements AdapterMethod, PeftFormatSupport {
    public static final String NAME = "ia3";
    private static final PeftLayerKeys KEYS = new PeftLayerKeys(List.of(Ia3Linear.CONTAINER));

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return Ia3Config.read(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        Ia3Config c = config(config);
        FeedForwardModules ff = c.resolveFeedForward(model.config());
        SplittableRandom rng = new SplittableRandom(seed);
        for (String path : c.resolveTargets(model.config()).select(model.linearLayers(), NAME)) {
            AdaptedLinear layer = model.adaptedLinear(path);
            boolean feedforward = ff.matches(path);
            int[] shape = shape(feedforward, layer.outFeatures(), layer.inFeatures());
            DType type = layer.base().weight().computeType();
            Tensor l = c.initIa3Weights() ? Tensor.full(type, 1.0, shape) : normal(rng, type, shape);
            layer.container(Ia3Linear.CONTAINER).registerParameter(adapterName, l);
            layer.add(adapterName, new Ia3Linear(adapterName, feedforward));
        }
        return List.of();
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        Ia3Config c = config(config);
        FeedForwardModules ff = c.resolveFeedForward(model.config());
        Map<String, int[]> linear = model.linearModules();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String path : c.resolveTargets(model.config()).select(linear, NAME)) {
            shapes.put(path + "." + Ia3Linear.CONTAINER + "." + adapterName, shape(ff.matches(path), linear.get(path)[0], linear.get(path)[1]));
        }
        return shapes;
    }

    /** [1, in] for a feed-forward layer (scales the input), else [out, 1] (scales the output). */
    private static int[] shape(boolean feedforward, int out, int in) {
        return feedforward ? new int[] {1, in} : new int[] {out, 1};
    }

    private static Tensor normal(SplittableRandom rng, DType type, int[] shape) {
        double[] v = new double[shape[0] * shape[1]];
        Random gaussian = new Random(rng.nextLong());
        for (int i = 0; i < v.length; i++) v[i] = gaussian.nextGaussian();
        return Tensor.of(v, shape).to(type);
    }

    // ------------------------------------------------------------------ PEFT files

    @Override
    public List<String> peftTypes() { return List.of("IA3"); }

    @Override
    public MethodConfig fromPeftConfig(JsonNode peftConfig) { return PeftLayerKeys.fromPeft(NAME, peftConfig, Ia3Config::read); }

    @Override
    public ObjectNode toPeftConfig(MethodConfig config) {
        Ia3Config c = config(config);
        if (!c.targets().layers().isEmpty()) {
            throw new IllegalArgumentException(NAME + ": PEFT's IA3 config has no layers_to_transform, so layers "
                    + c.targets().layers() + " cannot be saved in PEFT's format");
        }
        ObjectNode fields = c.toJson();
        fields.remove("layers_to_transform");
        return PeftLayerKeys.peftConfig("IA3", fields);
    }

    @Override
    public String treeName(String peftKey, String adapterName) { return KEYS.treeName(peftKey, adapterName); }

    @Override
    public String peftKey(String treeName, String adapterName) { return KEYS.peftKey(treeName, adapterName); }

    @Override
    public String peftMemoryName(String peftKey, String adapterName) { return KEYS.memoryName(peftKey, adapterName); }

    private static Ia3Config config(MethodConfig config) {
        if (!(config instanceof Ia3Config c)) throw new IllegalArgumentException(NAME + " cannot use a " + config.method() + " config");
        return c;
    }
}
