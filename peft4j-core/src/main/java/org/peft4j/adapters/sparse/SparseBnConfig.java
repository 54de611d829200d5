package org.peft4j.adapters.sparse;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.bottleneck.BottleneckConfig;

/**
 * {@code sparse_bn}: any linear bottleneck adapter ({@code base}, with all of that preset's fields and
 * defaults) whose projection weights are pruned at initialisation and, optionally, whose bottleneck
 * activations are top-k sparse. String form:
 * {@code sparse_bn[base=par_bn,density=0.2,sparsity_method=snip,large_sparse=true,top_k=0.25,reduction_factor=8]}.
 *
 * @param base           the bottleneck adapter being sparsified ({@code seq_bn} by default)
 * @param density        {@code density}: the fraction of the adapter's projection weights kept, counted over the whole adapter
 * @param sparsityMethod {@code sparsity_method}: how the kept weights are chosen
 * @param largeSparse    {@code large_sparse}: widen the bottleneck to m / density, so the kept weights number those of the dense adapter
 * @param topK           {@code top_k}: bottleneck units kept per token after the activation
 */
public record SparseBnConfig(BottleneckConfig base, double density, SparsityMethod sparsityMethod, boolean largeSparse, TopK topK)
        implements MethodConfig {
    public static final String METHOD = "sparse_bn";
    /** The bottleneck presets that can be sparsified (Compacter's PHM layers are not linear weights). */
    public static final List<String> BASES = List.of("seq_bn", "double_seq_bn", "par_bn", "scaled_par_bn");
    static final double DEFAULT_DENSITY = 0.5;
    static final SparsityMethod DEFAULT_METHOD = SparsityMethod.MAGNITUDE;

    public SparseBnConfig {
        if (!(density > 0 && density <= 1)) throw new IllegalArgumentException(METHOD + ": density must be in (0, 1], got " + density);
        if (base.phm().layer()) {
            throw new IllegalArgumentException(METHOD + ": phm_layer=true (Compacter) cannot be sparsified; sparsity prunes linear projections");
        }
        if (topK == null) topK = TopK.NONE;
    }

    /** Reads {@code base} and every bottleneck field of that preset, then the sparsity fields. */
    public static SparseBnConfig read(ConfigArgs a) {
        String baseName = a.choice("base", "seq_bn", BASES.toArray(String[]::new));
        BottleneckConfig base = BottleneckConfig.read(METHOD, a, BottleneckConfig.preset(baseName));
        try {
            return new SparseBnConfig(base,
                    a.number("density", DEFAULT_DENSITY),
                    a.has("sparsity_method") ? SparsityMethod.parse(a.string("sparsity_method", null)) : DEFAULT_METHOD,
                    a.bool("large_sparse", false),
                    a.has("top_k") ? TopK.parse(a.string("top_k", null)) : TopK.NONE);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().startsWith(METHOD + ":") ? e.getMessage() : METHOD + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String method() { return METHOD; }

    /**
     * The bottleneck size at {@code layer} of a model of width {@code hidden}: the base's m, or with
     * {@code large_sparse} round(m / density).
     */
    public int bottleneckSize(int hidden, int layer) {
        int m = base.reductionFactor().downSize(hidden, layer);
        return largeSparse ? (int) Math.max(m, Math.round(m / density)) : m;
    }

    /** The base's fields, then {@code base}, {@code density}, {@code sparsity_method}, {@code large_sparse} and {@code top_k}. */
    @Override
    public ObjectNode toJson() {
        ObjectNode j = base.toJson();
        j.put("base", base.method());
        j.put("density", density);
        j.put("sparsity_method", sparsityMethod.key());
        j.put("large_sparse", largeSparse);
        j.set("top_k", topK.toJson());
        return j;
    }

    /** The string form, with only the fields that differ from the defaults ({@code sparse_bn[density=0.2]}). */
    @Override
    public String toString() {
        List<String> fields = new ArrayList<>();
        if (!base.method().equals("seq_bn")) fields.add("base=" + base.method());
        if (density != DEFAULT_DENSITY) fields.add("density=" + density);
        if (sparsityMethod != DEFAULT_METHOD) fields.add("sparsity_method=" + sparsityMethod.key());
        if (largeSparse) fields.add("large_sparse=true");
        if (!topK.isNone()) fields.add("top_k=" + topK.toJson().asText());
        String baseSpec = base.toSpec();
        int open = baseSpec.indexOf('[');
        if (open >= 0) fields.add(baseSpec.substring(open + 1, baseSpec.length() - 1));
        return fields.isEmpty() ? METHOD : METHOD + "[" + String.join(",", fields) + "]";
    }
}
