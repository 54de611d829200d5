package org.peft4j.adapters.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.compacter.PhmLayer;
import org.peft4j.adapters.compacter.PhmOptions;
import org.peft4j.adapters.compacter.SharedPhmRule;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.models.Architecture;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Module;

/**
 * The bottleneck family as registry methods: each subclass is one AdapterHub preset ({@code seq_bn},
 * {@code double_seq_bn}, {@code par_bn}, {@code scaled_par_bn}, {@code compacter}, {@code compacter++}) and
 * they share everything else: parsing, installation at {@link BottleneckSite}s, trainable shapes, and
 * AdapterHub file compatibility (configs are told apart by their fields, {@link BottleneckConfig#methodOf}).
 */
public abstract class BottleneckMethod implements AdapterMethod, AdapterHubFormatSupport {
    /** The parts of a bottleneck adapter that AdapterHub saves under {@code adapters.<name>.}. */
    private static final String PARTS = "(?:adapter_down|adapter_up|adapter_norm_before|adapter_norm_after|gate|scaling)(?:\\..+)?";

    /** This method's defaults. */
    protected abstract BottleneckConfig preset();

    @Override
    public String name() { return preset().method(); }

    @Override
    public MethodConfig parse(ConfigArgs args) { return BottleneckConfig.read(name(), args, preset()); }

    @Override
    public MethodConfig fromJson(JsonNode json) {
        ConfigArgs args = ConfigArgs.fromJson(name(), json);
        MethodConfig c = parse(args);
        args.finish();
        return c;
    }

    private BottleneckConfig cast(MethodConfig c) {
        if (c instanceof BottleneckConfig b) return b;
        throw new IllegalArgumentException(name() + " cannot install a " + c.method() + " config");
    }

    // ------------------------------------------------------------------ installation

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        BottleneckConfig c = cast(config);
        ModelConfig mc = model.config();
        checkSizes(c, mc);
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!c.coversLayer(layer)) continue;
            for (Location loc : c.locations()) {
                PeftModel.SiteRef ref = model.siteRef(layer, loc);
                if (!ref.owner().hasChild(ref.childName())) continue;
                if (!(ref.owner().child(ref.childName()) instanceof BottleneckSite site)) {
                    throw new IllegalStateException(name() + ": " + BottleneckSite.path(mc, layer, loc) + " holds a site of another kind");
                }
                if (site.has(adapterName)) {
                    throw new IllegalStateException(name() + ": adapter '" + adapterName + "' already sits at " + BottleneckSite.path(mc, layer, loc));
                }
            }
        }
        RandomGenerator rng = new SplittableRandom(c.initWeightsSeed() != null ? c.initWeightsSeed() : seed);
        Module rule = c.phm().layer() && c.phm().sharedRule() ? SharedPhmRule.install(model.extras(), adapterName, c.phm(), rng) : null;
        int hidden = mc.hiddenSize();
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!c.coversLayer(layer)) continue;
            int down = c.reductionFactor().downSize(hidden, layer);
            for (Location loc : c.locations()) {
                final int l = layer;
                BottleneckSite site = model.site(l, loc, () -> new BottleneckSite(model.context(), l, loc));
                site.add(adapterName, BottleneckAdapter.create(c, hidden, down, rule, rng));
            }
        }
        return List.of();
    }

    /** Rejects, before anything is built, a reduction-factor map missing a layer and PHM sizes not divisible by phm_dim. */
    private void checkSizes(BottleneckConfig c, ModelConfig mc) {
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!c.coversLayer(layer)) continue;
            int down;
            try {
                down = c.reductionFactor().downSize(mc.hiddenSize(), layer);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(name() + ": " + e.getMessage(), e);
            }
            if (c.phm().layer()) {
                try {
                    PhmLayer.checkDivisible(mc.hiddenSize(), down, c.phm().dim());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(name() + " at layer " + layer + " (hidden size " + mc.hiddenSize()
                            + ", bottleneck " + down + "): " + e.getMessage(), e);
                }
            }
        }
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        BottleneckConfig c = cast(config);
        ModelConfig mc = model.config();
        checkSizes(c, mc);
        int d = mc.hiddenSize();
        Map<String, int[]> out = new LinkedHashMap<>();
        PhmOptions phm = c.phm();
        if (phm.layer() && phm.sharedRule()) out.put(SharedPhmRule.treeName(adapterName), new int[] {phm.dim(), phm.dim(), phm.dim()});
        for (int layer = 0; layer < mc.numLayers(); layer++) {
            if (!c.coversLayer(layer)) continue;
            int m = c.reductionFactor().downSize(d, layer);
            for (Location loc : c.locations()) {
                String p = BottleneckSite.path(mc, layer, loc) + "." + adapterName + ".";
                if (c.lnBefore()) {
                    out.put(p + "adapter_down.0.weight", new int[] {d});
                    out.put(p + "adapter_down.0.bias", new int[] {d});
                }
                projectionShapes(out, p + "adapter_down." + (c.lnBefore() ? "1" : "0") + ".", d, m, phm);
                projectionShapes(out, p + "adapter_up.", m, d, phm);
                int[] scaling = c.scaling().parameterShape(d);
                if (scaling != null) out.put(p + "scaling", scaling);
                if (c.lnAfter()) {
                    out.put(p + "adapter_norm_after.weight", new int[] {d});
                    out.put(p + "adapter_norm_after.bias", new int[] {d});
                }
                if (c.useGating()) {
                    out.put(p + "gate.weight", new int[] {1, d});
                    out.put(p + "gate.bias", new int[] {1});
                }
            }
        }
        return out;
    }

    private static void projectionShapes(Map<String, int[]> out, String p, int in, int outSize, PhmOptions phm) {
        if (!phm.layer()) {
            out.put(p + "weight", new int[] {outSize, in});
            out.put(p + "bias", new int[] {outSize});
            return;
        }
        int n = phm.dim();
        if (phm.factorizedW()) {
            out.put(p + "W_left", new int[] {n, in / n, phm.rank()});
            out.put(p + "W_right", new int[] {n, phm.rank(), outSize / n});
        } else {
            out.put(p + "W", new int[] {n, in / n, outSize / n});
        }
        if (phm.bias()) out.put(p + "b", new int[] {outSize});
        if (!phm.sharedRule()) out.put(p + "phm_rule", new int[] {n, n, n});
    }

    // ------------------------------------------------------------------ AdapterHub files

    @Override
    public boolean accepts(JsonNode adapterHubConfig) { return name().equals(BottleneckConfig.methodOf(adapterHubConfig)); }

    @Override
    public MethodConfig fromAdapterHubConfig(JsonNode adapterHubConfig) {
        if (!accepts(adapterHubConfig)) {
            throw new IllegalArgumentException(name() + ": this AdapterHub config is a " + BottleneckConfig.methodOf(adapterHubConfig) + " config");
        }
        return fromJson(adapterHubConfig);
    }

    /**
     * AdapterHub key → tree name. BERT-style keys ({@code encoder.layer.0.output.adapters.<name>.adapter_up.weight})
     * are the tree names; decoder keys lose the {@code adapters} level their layer-level modules have
     * ({@code model.layers.0.output_adapters.adapters.<name>.x} → {@code model.layers.0.output_adapters.<name>.x});
     * the shared rule loses any base prefix ({@code model.shared_parameters.<name>.phm_rule} →
     * {@code shared_parameters.<name>.phm_rule}). With {@code ln_before} AdapterHub saves the new
     * LayerNorm twice, as {@code adapter_norm_before} and as {@code adapter_down.0}; both name the tree's
     * {@code adapter_down.0}.
     */
    @Override
    public String treeName(String key, String adapterName) {
        String name = Pattern.quote(adapterName);
        Matcher shared = Pattern.compile("^(?:.+\\.)?shared_parameters\\." + name + "\\.(phm_rule)$").matcher(key);
        if (shared.matches()) return SharedPhmRule.treeName(adapterName);
        Matcher m = Pattern.compile("^(.+)\\.adapters\\." + name + "\\.(" + PARTS + ")$").matcher(key);
        if (!m.matches()) return null;
        String site = m.group(1), part = m.group(2);
        if (part.startsWith("adapter_norm_before.")) part = "adapter_down.0." + part.substring("adapter_norm_before.".length());
        boolean layerLevel = site.endsWith(".attention_adapters") || site.endsWith(".output_adapters");
        return (layerLevel ? site : site + ".adapters") + "." + adapterName + "." + part;
    }

    /** Tree name → the key AdapterHub saves for a model of this config (the inverse of {@link #treeName}). */
    public String adapterHubKey(String treeName, String adapterName, ModelConfig model) {
        if (treeName.equals(SharedPhmRule.treeName(adapterName))) return basePrefix(model.architecture()) + treeName;
        Matcher m = Pattern.compile("^(.+\\.(?:attention_adapters|output_adapters))\\." + Pattern.quote(adapterName) + "\\.(.+)$").matcher(treeName);
        return m.matches() ? m.group(1) + ".adapters." + adapterName + "." + m.group(2) : treeName;
    }

    /** Where AdapterHub's base model sits in the task model peft4j loads: nothing for BERT, {@code model.} (Llama), {@code transformer.} (GPT-2). */
    private static String basePrefix(Architecture a) {
        return switch (a) {
            case BERT -> "";
            case LLAMA -> "model.";
            case GPT2 -> "transformer.";
        };
    }
}
