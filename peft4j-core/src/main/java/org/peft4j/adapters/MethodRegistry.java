package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * Maps method names and aliases to {@link AdapterMethod}s, and method specifications to configs.
 * Composite aliases expand to unions: {@code mam} = {@code prefix_tuning|par_bn}.
 */
public final class MethodRegistry {
    private static final Map<String, String> UNIONS = Map.of(
            "mam", "prefix_tuning[prefix_length=30,bottleneck_size=800]|par_bn[reduction_factor=2,scaling=4.0,init_weights=mam_adapter]",
            "unipelt", "lora[r=8,alpha=2,use_gating=true]|prefix_tuning[prefix_length=10,use_gating=true]|seq_bn[reduction_factor=16,use_gating=true]");
    private static final Map<String, AdapterMethod> METHODS = load();

    private MethodRegistry() {}

    private static Map<String, AdapterMethod> load() {
        Map<String, AdapterMethod> m = new TreeMap<>();
        for (AdapterMethod method : ServiceLoader.load(AdapterMethod.class, MethodRegistry.class.getClassLoader())) {
            m.put(method.name(), method);
            for (String alias : method.aliases()) m.put(alias, method);
        }
        return m;
    }

    /** Every accepted name, methods, aliases and unions. */
    public static List<String> names() {
        List<String> all = new ArrayList<>(METHODS.keySet());
        all.addAll(UNIONS.keySet());
        all.sort(null);
        return all;
    }

    /** Every registered method once. */
    public static List<AdapterMethod> methods() { return METHODS.values().stream().distinct().toList(); }

    public static AdapterMethod method(String name) {
        AdapterMethod m = METHODS.get(name);
        if (m == null) throw new IllegalArgumentException("unknown method '" + name + "'; valid: " + names());
        return m;
    }

    /** Parses a specification into one config per method of the union. */
    public static List<MethodConfig> parse(String spec) {
        List<MethodConfig> out = new ArrayList<>();
        for (MethodSpec s : MethodSpec.parse(spec)) {
            String union = UNIONS.get(s.name());
            if (union != null) {
                if (!s.args().isEmpty()) throw new IllegalArgumentException(s.name() + " takes no fields; spell out " + union);
                out.addAll(parse(union));
                continue;
            }
            AdapterMethod m = method(s.name());
            ConfigArgs args = new ConfigArgs(s.name(), s.args());
            MethodConfig c = m.parse(args);
            args.finish();
            out.add(c);
        }
        return out;
    }
}
