package org.peft4j.adapters.ia3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.TargetModules;
import org.peft4j.adapters.formats.AdapterHubFormatSupport;
import org.peft4j.models.Architecture;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * AdapterHub's (IA)³ ({@code ia3_adapterhub}, see {@link AdapterHubIa3Config}), which scales layer outputs
 * where PEFT's {@code ia3} scales feed-forward inputs. Its vectors sit at {@code <module>.loras.<name>.lora_B},
 * AdapterHub's own key, and it reads AdapterHub folders whose config is a LoRA config with
 * {@code composition_mode "scale"}.
 */
public final class AdapterHubIa3Method implements AdapterMethod, AdapterHubFormatSupport {
    public static final String NAME = "ia3_adapterhub";
    private static final Pattern KEY = Pattern.compile("(.+)\\." + AdapterHubIa3Linear.CONTAINER + "\\.[^.]+\\." + AdapterHubIa3Linear.TENSOR);

    /** What AdapterHub adapts in a layer: one self-attention matrix, all three fused, the intermediate or output module. */
    private enum Site { Q, K, V, QKV, INTERMEDIATE, OUTPUT }

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return AdapterHubIa3Config.read(args); }

    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        AdapterHubIa3Config c = config(config);
        Random rng = new Random(seed);
        Map<String, int[]> shapes = shapes(model.config().architecture(), outFeatures(model), c);
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            AdaptedLinear layer = model.adaptedLinear(e.getKey());
            Tensor v = init(c.initWeights(), rng, layer.base().weight().computeType(), e.getValue()[0]);
            ModuleDict perAdapter = layer.container(AdapterHubIa3Linear.CONTAINER).registerModule(adapterName, new ModuleDict());
            perAdapter.registerParameter(AdapterHubIa3Linear.TENSOR, v);
            boolean fused = site(model.config().architecture(), e.getKey()) == Site.QKV;
            layer.add(adapterName, new AdapterHubIa3Linear(adapterName, c.alpha(), fused ? thirds(c) : null));
        }
        return List.of();
    }

    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        Map<String, int[]> out = new LinkedHashMap<>();
        Map<String, Integer> features = new LinkedHashMap<>();
        model.linearModules().forEach((path, shape) -> features.put(path, shape[0]));
        shapes(model.config().architecture(), features, config(config)).forEach((path, shape) -> out.put(tensorName(path, adapterName), shape));
        return out;
    }

    private static Map<String, Integer> outFeatures(PeftModel model) {
        Map<String, Integer> out = new LinkedHashMap<>();
        model.linearLayers().forEach((path, linear) -> out.put(path, linear.outFeatures()));
        return out;
    }

    /** Module path → vector shape for every layer the config adapts, given each linear module's output size. */
    private static Map<String, int[]> shapes(Architecture arch, Map<String, Integer> outFeatures, AdapterHubIa3Config c) {
        Map<String, int[]> out = new LinkedHashMap<>();
        int enabledThirds = (int) c.attnMatrices().stream().distinct().count();
        for (Map.Entry<String, Integer> e : outFeatures.entrySet()) {
            Site site = site(arch, e.getKey());
            int layer = TargetModules.layerIndex(e.getKey());
            if (site == null || layer < 0 || c.leaveOut().contains(layer)) continue;
            boolean adapted = switch (site) {
                case Q, K, V -> c.selfattnLora() && c.attnMatrices().contains(site.name().toLowerCase(Locale.ROOT));
                case QKV -> c.selfattnLora() && enabledThirds > 0;
                case INTERMEDIATE -> c.intermediateLora();
                case OUTPUT -> c.outputLora();
            };
            if (adapted) out.put(e.getKey(), new int[] {site == Site.QKV ? e.getValue() / 3 * enabledThirds : e.getValue(), 1});
        }
        if (out.isEmpty()) throw new IllegalArgumentException(NAME + ": the config adapts no layer of this model");
        return out;
    }

    /** AdapterHub's placement for each architecture, by the module's dotted path. */
    private static Site site(Architecture arch, String path) {
        return switch (arch) {
            case BERT -> path.endsWith(".attention.self.query") ? Site.Q
                    : path.endsWith(".attention.self.key") ? Site.K
                    : path.endsWith(".attention.self.value") ? Site.V
                    : path.endsWith(".intermediate.dense") ? Site.INTERMEDIATE
                    : path.endsWith(".output.dense") && !path.endsWith(".attention.output.dense") ? Site.OUTPUT : null;
            case GPT2 -> path.endsWith(".attn.c_attn") ? Site.QKV
                    : path.endsWith(".mlp.c_fc") ? Site.INTERMEDIATE
                    : path.endsWith(".mlp.c_proj") ? Site.OUTPUT : null;
            case LLAMA -> path.endsWith(".self_attn.q_proj") ? Site.Q
                    : path.endsWith(".self_attn.k_proj") ? Site.K
                    : path.endsWith(".self_attn.v_proj") ? Site.V
                    : path.endsWith(".mlp.down_proj") ? Site.INTERMEDIATE
                    : path.endsWith(".mlp.up_proj") ? Site.OUTPUT : null;
        };
    }

    private static boolean[] thirds(AdapterHubIa3Config c) {
        return new boolean[] {c.attnMatrices().contains("q"), c.attnMatrices().contains("k"), c.attnMatrices().contains("v")};
    }

    private static Tensor init(String kind, Random rng, DType type, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (kind) {
                case "ia3" -> 1;
                case "lora" -> 0;
                default -> 0.02 * rng.nextGaussian();
            };
        }
        return Tensor.of(v, n, 1).to(type);
    }

    // ------------------------------------------------------------------ AdapterHub files

    @Override
    public boolean accepts(JsonNode config) {
        return "lora".equals(config.path("architecture").asText()) && "scale".equals(config.path("composition_mode").asText());
    }

    /**
     * Reads AdapterHub's config object. Settings this method does not implement are refused by name: r other
     * than 1, dropout, gating, DoRA, VeRA.
     */
    @Override
    public MethodConfig fromAdapterHubConfig(JsonNode config) {
        if (!accepts(config)) throw new IllegalArgumentException(NAME + ": not an AdapterHub IA3 config (architecture 'lora', composition_mode 'scale'): " + config);
        ObjectNode fields = config.deepCopy();
        for (String generic : List.of("architecture", "composition_mode", "dtype", "init_weights_seed")) fields.remove(generic);
        require(fields.remove("r"), 1, "r");
        require(fields.remove("dropout"), 0, "dropout");
        require(fields.remove("use_gating"), false, "use_gating");
        require(fields.remove("use_dora"), false, "use_dora");
        require(fields.remove("vera_b"), null, "vera_b");
        require(fields.remove("vera_d"), null, "vera_d");
        ConfigArgs args = ConfigArgs.fromJson(NAME, fields);
        MethodConfig c = parse(args);
        args.finish();
        return c;
    }

    private static void require(JsonNode value, Object expected, String field) {
        if (value == null || value.isNull()) return;
        boolean ok = expected == null ? false
                : expected instanceof Boolean b ? value.isBoolean() && value.asBoolean() == b
                : value.isNumber() && value.asDouble() == ((Number) expected).doubleValue();
        if (!ok) throw new IllegalArgumentException(NAME + ": AdapterHub field '" + field + "' = " + value + " is not supported (only "
                + expected + ")");
    }

    @Override
    public String treeName(String adapterHubKey, String adapterName) {
        Matcher m = KEY.matcher(adapterHubKey);
        return m.matches() ? tensorName(m.group(1), adapterName) : null;
    }

    /** {@code <module>.loras.<adapter>.lora_B}, AdapterHub's key for the vector of a module. */
    private static String tensorName(String module, String adapterName) {
        return module + "." + AdapterHubIa3Linear.CONTAINER + "." + adapterName + "." + AdapterHubIa3Linear.TENSOR;
    }

    private static AdapterHubIa3Config config(MethodConfig config) {
        if (!(config instanceof AdapterHubIa3Config c)) throw new IllegalArgumentException(NAME + " cannot use a " + config.method() + " config");
        return c;
    }
}
