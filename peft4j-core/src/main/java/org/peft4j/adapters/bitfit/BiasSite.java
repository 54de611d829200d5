package org.peft4j.adapters.bitfit;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.ModelShape;
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ParamSpec;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;

/**
 * A place for a bias in the base model: an existing bias, or a linear layer without one that
 * {@code add_missing} can give one. Found in a live module tree or from a config alone, and selected by
 * a {@link BitFitConfig} with the same rules either way, so {@code summary} counts what {@code install}
 * trains.
 *
 * @param modulePath the module's Hugging Face path (no {@code base_layer} step), what entries match
 * @param tensorName the bias's dotted name in the tree ({@code <path>[.base_layer].bias})
 * @param owner      the module holding the bias (null when known from a config only)
 * @param size       the bias length
 * @param present    whether the bias exists (false: a linear layer without one)
 */
record BiasSite(String modulePath, String tensorName, Module owner, int size, boolean present) {

    /** Every bias site of a live base model, in tree order; adapters' own modules are not the base's and are skipped. */
    static List<BiasSite> of(Module base) {
        List<BiasSite> out = new ArrayList<>();
        walk(base, "", "", out);
        return out;
    }

    private static void walk(Module m, String path, String modulePath, List<BiasSite> out) {
        if (m instanceof AdapterSite) return;
        if (m instanceof AdaptedLinear al) {
            walk(al.base(), join(path, "base_layer"), modulePath, out);
            return;
        }
        if (m.parameter("bias") != null) {
            out.add(new BiasSite(modulePath, join(path, "bias"), m, m.parameter("bias").size(0), true));
        } else if (m instanceof Linear l && !isOutputHead(modulePath)) {
            out.add(new BiasSite(modulePath, join(path, "bias"), m, l.outFeatures(), false));
        }
        m.children().forEach((name, child) -> walk(child, join(path, name), join(modulePath, name), out));
    }

    /** Every bias site the architecture has for a config, in parameter order. */
    static List<BiasSite> of(ModelShape shape) {
        Map<String, int[]> linear = shape.linearModules();
        Set<String> names = new LinkedHashSet<>();
        for (ParamSpec s : shape.parameters()) names.add(s.name());
        List<BiasSite> out = new ArrayList<>();
        for (ParamSpec s : shape.parameters()) {
            if (s.name().endsWith(".bias") && s.shape().length == 1) {
                out.add(new BiasSite(strip(s.name(), ".bias"), s.name(), null, s.shape()[0], true));
            } else if (s.name().endsWith(".weight")) {
                String module = strip(s.name(), ".weight");
                int[] outIn = linear.get(module);
                if (outIn != null && !names.contains(module + ".bias") && !isOutputHead(module)) {
                    out.add(new BiasSite(module, module + ".bias", null, outIn[0], false));
                }
            }
        }
        return out;
    }

    /**
     * The sites {@code config} trains, in model order: existing biases it selects plus, with
     * {@code add_missing}, the selected linear layers without one. Errors name the model when it has no
     * bias to train and the entry that selects nothing.
     */
    static List<BiasSite> select(List<BiasSite> sites, BitFitConfig config, ModelConfig model) {
        List<BiasSite> pool = sites.stream().filter(s -> s.present() || config.addMissing()).toList();
        if (pool.isEmpty()) {
            long linear = sites.stream().filter(s -> !s.present()).count();
            throw new IllegalArgumentException("bitfit: the " + describe(model) + " has no bias parameters (its "
                    + linear + " linear layers have no bias and its norms no β); set add_missing=true to add "
                    + "zero-initialised biases to its linear layers");
        }
        if (!config.allBiases()) {
            for (String entry : config.biases()) {
                if (pool.stream().anyMatch(s -> BitFitConfig.matches(s.modulePath(), entry))) continue;
                boolean inMissing = sites.stream().anyMatch(s -> !s.present() && BitFitConfig.matches(s.modulePath(), entry));
                throw new IllegalArgumentException("bitfit: biases entry '" + entry + "' matches no bias of the "
                        + describe(model) + (inMissing ? "; the linear layers it names have no bias (add_missing=true adds them)" : "")
                        + "; its biases: " + patterns(pool));
            }
        }
        return pool.stream().filter(s -> config.selects(s.modulePath())).toList();
    }

    /** The distinct module paths with layer indices as {@code *}, for error messages. */
    private static List<String> patterns(List<BiasSite> sites) {
        Set<String> out = new LinkedHashSet<>();
        for (BiasSite s : sites) out.add(s.modulePath().replaceAll("\\.\\d+(?=\\.|$)", ".*"));
        return List.copyOf(out);
    }

    private static String describe(ModelConfig model) {
        String source = model.source() == null ? "" : " (" + model.source() + ")";
        return "'" + model.modelType() + "' model" + source;
    }

    /** The LM head projects onto the vocabulary; like PEFT's all-linear, BitFit leaves it alone. */
    private static boolean isOutputHead(String modulePath) {
        return modulePath.equals("lm_head") || modulePath.endsWith(".lm_head");
    }

    private static String join(String path, String name) { return path.isEmpty() ? name : path + "." + name; }

    private static String strip(String name, String suffix) { return name.substring(0, name.length() - suffix.length()); }
}
