package org.peft4j.adapters.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.formats.FusionFormatSupport;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Module;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;

/**
 * AdapterFusion (Pfeiffer et al., 2021) as a registry method ({@code fuse}): fusion layers over N
 * bottleneck adapters already on the model, one {@link FusionLayer} at every site where those adapters sit,
 * stored under {@code <site>.adapter_fusion_layer.<a,b,c>}. The layers run when the composition
 * {@code Fuse(a, b, c)} is active.
 *
 * <p>A fusion is an entry of the model like an adapter, named {@link #entryName} ({@code fusion:a+b+c}),
 * so training's second stage is {@code model.train(entryName)}: only the fusion layers train while the
 * fused adapters stay frozen (a task head, if any, is unfrozen by its owner). Deleting the entry removes
 * the layers. Files: AdapterHub's fusion folder ({@code adapter_fusion_config.json} +
 * {@code model_adapter_fusion.safetensors}) and peft4j's ({@code adapter_fusion_config.json} +
 * {@code adapter_fusion.safetensors}), both through {@link FusionFiles}.
 */
public final class FusionMethod implements AdapterMethod, FusionFormatSupport {
    static final String NAME = "fuse";

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return FusionConfig.read(args); }

    @Override
    public MethodConfig fromJson(JsonNode json) {
        ConfigArgs args = ConfigArgs.fromJson(NAME, json);
        MethodConfig c = parse(args);
        args.finish();
        return c;
    }

    /** The model entry that holds the fusion over {@code adapters}: {@code fusion:a+b+c}. */
    public static String entryName(List<String> adapters) { return "fusion:" + String.join("+", adapters); }

    /**
     * Adds new fusion layers over {@code adapters} for training (entry {@link #entryName}), initialised
     * from {@code seed}; the config's own adapter list is replaced by {@code adapters}.
     */
    public static AdapterEntry addFusion(PeftModel model, List<String> adapters, FusionConfig config, long seed) {
        return model.addAdapter(entryName(adapters), List.of(config.withAdapters(adapters)), seed);
    }

    /**
     * Installs a {@link FusionLayer} at every bottleneck site holding the config's adapters.
     *
     * @throws IllegalArgumentException with fewer than two adapters, an adapter the model lacks, adapters
     *     that do not share one placement, or a fusion over the same adapters already installed
     */
    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        FusionConfig c = cast(config);
        List<BottleneckSite> sites = sitesOf(model, c.adapters());
        String key = FusionLayer.key(c.adapters());
        for (BottleneckSite s : sites) {
            if (s.fusionLayer(key) != null) {
                throw new IllegalArgumentException(NAME + ": a fusion over " + key + " already exists (layer " + s.layer() + " " + s.location() + ")");
            }
        }
        RandomGenerator rng = new SplittableRandom(seed);
        int hidden = model.config().hiddenSize();
        for (BottleneckSite s : sites) s.addFusionLayer(key, new FusionLayer(c, hidden, rng));
        return List.of();
    }

    /** The sites where all of {@code adapters} sit; every site holding any of them must hold all. */
    private static List<BottleneckSite> sitesOf(PeftModel model, List<String> adapters) {
        if (adapters.size() < 2) throw new IllegalArgumentException(NAME + ": field 'adapters' needs at least two adapters, got " + adapters);
        List<String> missing = adapters.stream().filter(a -> !model.adapterNames().contains(a)).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(NAME + ": the model has no adapter " + missing + " to fuse; adapters: " + model.adapterNames());
        }
        List<BottleneckSite> sites = new ArrayList<>();
        for (Map.Entry<String, BottleneckSite> e : sites(model).entrySet()) {
            BottleneckSite s = e.getValue();
            List<String> here = adapters.stream().filter(s::has).toList();
            if (here.isEmpty()) continue;
            if (here.size() != adapters.size()) {
                throw new IllegalArgumentException(NAME + ": fused adapters must share one placement, but at " + e.getKey()
                        + " only " + here + " of " + adapters + " sit");
            }
            sites.add(s);
        }
        if (sites.isEmpty()) throw new IllegalArgumentException(NAME + ": " + adapters + " are not bottleneck adapters; AdapterFusion fuses those only");
        return sites;
    }

    /** Every bottleneck site of the model by dotted path. */
    static Map<String, BottleneckSite> sites(PeftModel model) {
        Map<String, BottleneckSite> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : model.base().namedModules().entrySet()) {
            if (e.getValue() instanceof BottleneckSite s) out.put(e.getKey(), s);
        }
        return out;
    }

    /** Removes the entry's fusion layers from every site. */
    @Override
    public void uninstall(PeftModel model, String adapterName) {
        for (MethodConfig c : model.adapter(adapterName).configs()) {
            if (!(c instanceof FusionConfig f)) continue;
            String key = FusionLayer.key(f.adapters());
            for (BottleneckSite s : sites(model).values()) s.removeFusionLayer(key);
        }
    }

    /**
     * The fusion layers' shapes, assuming the fused adapters sit after every layer's feed-forward sublayer
     * (the placement of {@code seq_bn}, {@code par_bn} and {@code compacter++}): a config alone does not
     * say where adapters sit. Installed layers follow the adapters wherever they are.
     */
    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        FusionConfig c = cast(config);
        ModelConfig mc = model.config();
        int d = mc.hiddenSize();
        String key = c.adapters().isEmpty() ? adapterName : FusionLayer.key(c.adapters());
        Map<String, int[]> out = new LinkedHashMap<>();
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            String p = BottleneckSite.path(mc, layer, Location.FFN) + "." + BottleneckSite.FUSION_LAYERS + "." + key + ".";
            for (String proj : List.of("query", "key")) {
                if (!(proj.equals("query") ? c.query() : c.key())) continue;
                out.put(p + proj + ".weight", new int[] {d, d});
                out.put(p + proj + ".bias", new int[] {d});
            }
            if (c.value()) out.put(p + "value.weight", new int[] {d, d});
        }
        return out;
    }

    private static FusionConfig cast(MethodConfig c) {
        if (c instanceof FusionConfig f) return f;
        throw new IllegalArgumentException(NAME + " cannot install a " + c.method() + " config");
    }

    // ------------------------------------------------------------------ the installed layers

    /** The fusion layers over {@code adapters} by their sites' paths (empty when there is no such fusion). */
    public static Map<String, FusionLayer> layers(PeftModel model, List<String> adapters) {
        String key = FusionLayer.key(adapters);
        Map<String, FusionLayer> out = new LinkedHashMap<>();
        sites(model).forEach((path, s) -> {
            FusionLayer f = s.fusionLayer(key);
            if (f != null) out.put(path, f);
        });
        return out;
    }

    /** Sets the temperature schedule's step counter of every layer of the fusion over {@code adapters}. */
    public static void setSteps(PeftModel model, List<String> adapters, long steps) {
        for (FusionLayer f : layers(model, adapters).values()) f.setSteps(steps);
    }

    /**
     * Sets the temperature schedule's clock of every fusion layer in the model to {@code steps}
     * training forwards, e.g. when a trainer resumes after {@code steps} micro-batches.
     */
    public static void setAllSteps(PeftModel model, long steps) {
        for (FusionLayer f : allLayers(model)) f.setSteps(steps);
    }

    /** Every fusion layer in the model, of every fusion. */
    private static List<FusionLayer> allLayers(PeftModel model) {
        List<FusionLayer> out = new ArrayList<>();
        for (BottleneckSite s : sites(model).values()) {
            if (!s.hasChild(BottleneckSite.FUSION_LAYERS)) continue;
            for (Module m : s.child(BottleneckSite.FUSION_LAYERS).children().values()) out.add((FusionLayer) m);
        }
        return out;
    }

    /**
     * AdapterFusion's value regularisation {@code 0.01 · Σ_layers ‖I − W_V‖²} over the layers of every
     * fusion whose config has {@code regularization} on and a value projection: the term training adds to
     * the task loss. A differentiable scalar; 0 when no fusion qualifies.
     */
    public static Tensor regularizationLoss(PeftModel model) {
        Tensor sum = null;
        for (FusionLayer f : allLayers(model)) {
            Tensor r = f.config().regularization() ? f.valueRegularization() : null;
            if (r != null) sum = sum == null ? r : Elementwise.add(sum, r);
        }
        return sum == null ? Tensor.zeros() : sum;
    }

    // ------------------------------------------------------------------ files

    @Override
    public Map<String, String> loadFusion(PeftModel model, Path dir) throws IOException { return FusionFiles.load(model, dir); }

    @Override
    public void saveFusion(PeftModel model, List<String> adapters, Path dir) throws IOException { FusionFiles.save(model, adapters, dir); }
}
