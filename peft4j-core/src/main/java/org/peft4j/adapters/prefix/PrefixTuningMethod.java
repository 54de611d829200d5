package org.peft4j.adapters.prefix;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;

/**
 * AdapterHub's prefix tuning, {@code prefix_tuning} (MLP reparameterisation) and
 * {@code prefix_tuning_flat}: every layer's self-attention gets {@code prefix_length} extra keys and
 * values per key/value head (grouped-query models: {@code num_key_value_heads}), the mask extended by
 * ones, positions not shifted. With {@code use_gating} (UniPELT) each layer's prefix is scaled by a gate
 * computed from that layer's attention input ({@link PrefixGates}). Reads AdapterHub folders
 * ({@code architecture: "prefix_tuning"}).
 */
public final class PrefixTuningMethod implements AdapterMethod, AdapterHubFormatSupport {
    private static final String TREE_ROOT = "prefix_tuning.prefix_tunings.";
    /** AdapterHub's per-layer prefix gate: {@code ...<layer i>.<self-attention>.prefix_tuning.prefix_gates.<name>.weight|bias}. */
    private static final Pattern GATE_KEY = Pattern.compile(
            "(?:.*\\.)?(?:layer|h|layers)\\.(\\d+)\\.(?:attention\\.self|attn|self_attn)\\.prefix_tuning\\.prefix_gates\\.[^.]+\\.(weight|bias)");

    @Override
    public String name() { return PrefixTuningConfig.NAME; }

    @Override
    public List<String> aliases() { return List.of(PrefixTuningConfig.FLAT_NAME); }

    @Override
    public MethodConfig parse(ConfigArgs args) { return PrefixTuningConfig.parse(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        PrefixTuningConfig c = (PrefixTuningConfig) config;
        ModelConfig m = model.config();
        checkSupported(c, m);
        SplittableRandom rng = new SplittableRandom(seed);
        int kvWidth = m.numKvHeads() * m.headDim();
        int layers = c.prefixedLayers(m.numLayers());
        PrefixTuning module;
        if (c.flat()) {
            module = PrefixTuning.flat(Init.normal(rng, c.prefixLength() * layers * 2 * kvWidth), c.prefixLength(), c.dropout(),
                    layers, m.numKvHeads(), m.headDim(), rng.split());
        } else {
            int d = m.hiddenSize(), out = layers * 2 * kvWidth;
            Linear first = new Linear(Init.linearUniform(rng, d, c.bottleneckSize(), d), Init.linearUniform(rng, d, c.bottleneckSize()));
            Linear second = new Linear(Init.linearUniform(rng, c.bottleneckSize(), out, c.bottleneckSize()),
                    Init.linearUniform(rng, c.bottleneckSize(), out));
            module = PrefixTuning.mlp(Init.normal(rng, c.prefixLength(), d), first, second, c.nonLinearity(), c.dropout(),
                    layers, m.numKvHeads(), m.headDim(), rng.split());
        }
        module.requiresGrad(true);
        Module tunings = container(container(model.extras(), "prefix_tuning"), "prefix_tunings");
        container(tunings, adapterName).registerModule("self_prefix", module);
        model.registerPrefix(adapterName, module);
        if (c.useGating()) {
            PrefixGates gates = new PrefixGates(layers, m.hiddenSize(), c.sharedGating(), rng.split());
            gates.requiresGrad(true);
            container(tunings, adapterName).registerModule(PrefixGates.NAME, gates);
            model.registerPrefixGate(adapterName, gates);
        }
        return List.of();
    }

    /**
     * A setting the model's prefix cache cannot express yet: the prefixes of all active adapters are joined
     * per layer into one block of positions, so one adapter's left-out layer (leave_out) would leave a gap
     * inside another's.
     */
    private static void checkSupported(PrefixTuningConfig c, ModelConfig m) {
        c.prefixedLayers(m.numLayers());
        if (!c.leaveOut().isEmpty()) {
            throw new IllegalArgumentException(c.method() + ": leave_out " + c.leaveOut() + " is not supported: the model's prefix cache"
                    + " joins every active adapter's prefixes into the same positions of each layer");
        }
    }

    private static Module container(Module parent, String name) {
        if (!parent.hasChild(name)) parent.registerModule(name, new ModuleDict());
        return parent.child(name);
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        PrefixTuningConfig c = (PrefixTuningConfig) config;
        ModelConfig m = model.config();
        int kvWidth = m.numKvHeads() * m.headDim();
        int layers = c.prefixedLayers(m.numLayers());
        String p = PrefixTuning.path(adapterName) + ".";
        Map<String, int[]> out = new LinkedHashMap<>();
        if (c.flat()) {
            out.put(p + "control_trans", new int[] {c.prefixLength() * layers * 2 * kvWidth});
        } else {
            int d = m.hiddenSize(), b = c.bottleneckSize(), width = layers * 2 * kvWidth;
            out.put(p + "wte.weight", new int[] {c.prefixLength(), d});
            out.put(p + "control_trans.0.weight", new int[] {b, d});
            out.put(p + "control_trans.0.bias", new int[] {b});
            out.put(p + "control_trans.2.weight", new int[] {width, b});
            out.put(p + "control_trans.2.bias", new int[] {width});
        }
        if (c.useGating()) {
            int outputs = c.sharedGating() ? 1 : 2;
            for (int l = 0; l < layers; l++) {
                String g = PrefixGates.path(adapterName) + "." + l + ".";
                out.put(g + "weight", new int[] {outputs, m.hiddenSize()});
                out.put(g + "bias", new int[] {outputs});
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ AdapterHub files

    @Override
    public boolean accepts(JsonNode adapterHubConfig) {
        return "prefix_tuning".equals(adapterHubConfig.path("architecture").asText());
    }

    @Override
    public MethodConfig fromAdapterHubConfig(JsonNode adapterHubConfig) {
        ObjectNode fields = adapterHubConfig.deepCopy();
        fields.remove("architecture");
        // The seed AdapterHub initialised with; the folder's weights replace any initialisation.
        fields.remove("init_weights_seed");
        ConfigArgs args = ConfigArgs.fromJson(PrefixTuningConfig.NAME, fields);
        PrefixTuningConfig c = PrefixTuningConfig.parse(args);
        args.finish();
        return c;
    }

    /**
     * {@code [<base prefix>.]prefix_tuning.prefix_tunings.<saved name>.self_prefix.<tensor>} → the same
     * path under {@code adapterName}; a layer's gate {@code <layer i>.<attention>.prefix_tuning.prefix_gates.<saved name>.weight}
     * → {@code prefix_tuning.prefix_tunings.<adapterName>.prefix_gates.<i>.weight}; cross-attention
     * prefixes and unknown tensors are not this method's.
     */
    @Override
    public String treeName(String adapterHubKey, String adapterName) {
        Matcher gate = GATE_KEY.matcher(adapterHubKey);
        if (gate.matches()) return PrefixGates.path(adapterName) + "." + gate.group(1) + "." + gate.group(2);
        int at = 0;
        if (!adapterHubKey.startsWith(TREE_ROOT)) {
            int i = adapterHubKey.indexOf("." + TREE_ROOT);
            if (i < 0) return null;
            at = i + 1;
        }
        String rest = adapterHubKey.substring(at + TREE_ROOT.length());
        int dot = rest.indexOf('.');
        if (dot < 0 || !rest.startsWith("self_prefix.", dot + 1)) return null;
        String tensor = rest.substring(dot + 1 + "self_prefix.".length());
        boolean known = PrefixTuning.parameterNames(true).contains(tensor) || PrefixTuning.parameterNames(false).contains(tensor);
        return known ? PrefixTuning.path(adapterName) + "." + tensor : null;
    }
}
