package org.peft4j.adapters.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.compacter.PhmOptions;
import org.peft4j.ops.Activations;

/**
 * A bottleneck adapter's configuration (AdapterHub's {@code BnConfig}), shared by {@code seq_bn},
 * {@code double_seq_bn}, {@code par_bn}, {@code scaled_par_bn}, {@code compacter} and {@code compacter++},
 * which differ only in their defaults ({@link #preset}). Field names in the string and JSON forms are
 * AdapterHub's.
 *
 * @param method                  the registry name of the preset this config started from
 * @param mhAdapter               {@code mh_adapter}: an adapter after the attention sublayer
 * @param outputAdapter           {@code output_adapter}: an adapter after the feed-forward sublayer
 * @param reductionFactor         {@code reduction_factor}: hidden / bottleneck size, per layer if a map
 * @param nonLinearity            {@code non_linearity}: the bottleneck's activation
 * @param originalLnBefore        {@code original_ln_before}: the adapter reads LN(x + h) instead of h
 * @param originalLnAfter         {@code original_ln_after}: the sublayer's own residual + LN after the adapter
 * @param residualBeforeLn        {@code residual_before_ln}: which tensor the adapter's own residual adds
 * @param adapterResidualBeforeLn {@code adapter_residual_before_ln}: that residual goes before {@code ln_after}
 * @param lnBefore                {@code ln_before}: a new LayerNorm on the adapter's input
 * @param lnAfter                 {@code ln_after}: a new LayerNorm on the adapter's output
 * @param initWeights             {@code init_weights}: "bert", "houlsby" or "mam_adapter"
 * @param isParallel              {@code is_parallel}: the adapter reads the sublayer's input x, its output is added to h
 * @param scaling                 {@code scaling}: factor on the bottleneck output
 * @param useGating               {@code use_gating}: a learned per-example gate on the adapter output
 * @param leaveOut                {@code leave_out}: layer indices that get no adapter
 * @param dropout                 {@code dropout}: on the scaled bottleneck output
 * @param initWeightsSeed         {@code init_weights_seed}: overrides the install seed when set
 * @param phm                     the PHM (Compacter) settings
 */
public record BottleneckConfig(
        String method,
        boolean mhAdapter,
        boolean outputAdapter,
        ReductionFactor reductionFactor,
        String nonLinearity,
        boolean originalLnBefore,
        boolean originalLnAfter,
        ResidualBeforeLn residualBeforeLn,
        boolean adapterResidualBeforeLn,
        boolean lnBefore,
        boolean lnAfter,
        String initWeights,
        boolean isParallel,
        Scaling scaling,
        boolean useGating,
        List<Integer> leaveOut,
        double dropout,
        Integer initWeightsSeed,
        PhmOptions phm) implements MethodConfig {

    /**
     * AdapterHub's {@code residual_before_ln}: the adapter's residual is the sublayer output h
     * ({@code true}), the adapter's input after the optional LN ({@code false}), or x + h before the
     * LN ({@code "post_add"}).
     */
    public enum ResidualBeforeLn {
        TRUE, FALSE, POST_ADD;

        static ResidualBeforeLn parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "true" -> TRUE;
                case "false" -> FALSE;
                case "post_add" -> POST_ADD;
                default -> throw new IllegalArgumentException("residual_before_ln must be true, false or post_add, got '" + s + "'");
            };
        }

        JsonNode toJson() {
            return this == POST_ADD ? JsonNodeFactory.instance.textNode("post_add") : JsonNodeFactory.instance.booleanNode(this == TRUE);
        }
    }

    /** {@code seq_bn} (Pfeiffer): after the FFN only, reading LN(x + h). */
    public static final BottleneckConfig SEQ_BN = new BottleneckConfig("seq_bn", false, true, ReductionFactor.of(16), "relu",
            true, true, ResidualBeforeLn.TRUE, false, false, false, "bert", false, Scaling.fixed(1.0), false, List.of(), 0.0,
            null, PhmOptions.DEFAULTS);
    /** {@code double_seq_bn} (Houlsby): after attention and FFN, reading h. */
    public static final BottleneckConfig DOUBLE_SEQ_BN = new BottleneckConfig("double_seq_bn", true, true, ReductionFactor.of(16),
            "swish", false, true, ResidualBeforeLn.TRUE, false, false, false, "bert", false, Scaling.fixed(1.0), false, List.of(),
            0.0, null, PhmOptions.DEFAULTS);
    /** {@code par_bn}: parallel to the FFN, reading x, zero-initialised up projection, s = 4. */
    public static final BottleneckConfig PAR_BN = new BottleneckConfig("par_bn", false, true, ReductionFactor.of(2), "relu",
            false, true, ResidualBeforeLn.TRUE, false, false, false, "mam_adapter", true, Scaling.fixed(4.0), false, List.of(),
            0.0, null, PhmOptions.DEFAULTS);
    /** {@code scaled_par_bn}: {@code par_bn} with a learned scalar scaling starting at 1. */
    public static final BottleneckConfig SCALED_PAR_BN = PAR_BN.withMethod("scaled_par_bn").withScaling(new Scaling(Scaling.Mode.LEARNED, 1));
    /** {@code compacter}: Houlsby placement with PHM projections, rf 32, gelu. */
    public static final BottleneckConfig COMPACTER = DOUBLE_SEQ_BN.withMethod("compacter").withPhmDefaults(32, "gelu");
    /** {@code compacter++}: Pfeiffer placement with PHM projections, rf 32, gelu. */
    public static final BottleneckConfig COMPACTER_PP = SEQ_BN.withMethod("compacter++").withPhmDefaults(32, "gelu");

    private static final Map<String, BottleneckConfig> PRESETS = Map.of("seq_bn", SEQ_BN, "double_seq_bn", DOUBLE_SEQ_BN,
            "par_bn", PAR_BN, "scaled_par_bn", SCALED_PAR_BN, "compacter", COMPACTER, "compacter++", COMPACTER_PP);

    public BottleneckConfig {
        leaveOut = List.copyOf(leaveOut);
        if (!mhAdapter && !outputAdapter) throw new IllegalArgumentException(method + ": mh_adapter and output_adapter are both false; the adapter would sit nowhere");
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException(method + ": dropout must be in [0, 1), got " + dropout);
        if (residualBeforeLn == ResidualBeforeLn.POST_ADD && !originalLnBefore && !isParallel) {
            throw new IllegalArgumentException(method + ": residual_before_ln=post_add needs original_ln_before=true");
        }
    }

    /** The defaults of a method name ({@code seq_bn}, ..., {@code compacter++}). */
    public static BottleneckConfig preset(String method) {
        BottleneckConfig c = PRESETS.get(method);
        if (c == null) throw new IllegalArgumentException("no bottleneck preset '" + method + "'; valid: " + PRESETS.keySet());
        return c;
    }

    /** The sublayers this config places adapters after. */
    public List<Location> locations() {
        List<Location> out = new ArrayList<>(2);
        if (mhAdapter) out.add(Location.ATTENTION);
        if (outputAdapter) out.add(Location.FFN);
        return out;
    }

    /** Whether layer {@code layer} has adapters. */
    public boolean coversLayer(int layer) { return !leaveOut.contains(layer); }

    /**
     * Reads every field from the string or JSON form, with {@code d}'s values for the absent ones.
     * AdapterHub fields peft4j does not implement are accepted only at their neutral values.
     */
    public static BottleneckConfig read(String method, ConfigArgs a, BottleneckConfig d) {
        try {
            String arch = a.string("architecture", "bottleneck");
            if (!arch.equals("bottleneck")) throw new IllegalArgumentException("architecture '" + arch + "' is not a bottleneck adapter");
            String act = a.string("non_linearity", d.nonLinearity).toLowerCase(Locale.ROOT);
            Activations.byName(act);
            List<Integer> leaveOut = new ArrayList<>();
            for (String s : a.list("leave_out")) {
                try {
                    leaveOut.add(Integer.parseInt(s));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("leave_out must list layer indices, got '" + s + "'");
                }
            }
            if (!a.has("leave_out")) leaveOut = d.leaveOut;
            BottleneckConfig c = new BottleneckConfig(
                    d.method,
                    a.bool("mh_adapter", d.mhAdapter),
                    a.bool("output_adapter", d.outputAdapter),
                    a.has("reduction_factor") ? ReductionFactor.parse(a.string("reduction_factor", null)) : d.reductionFactor,
                    act,
                    a.bool("original_ln_before", d.originalLnBefore),
                    a.bool("original_ln_after", d.originalLnAfter),
                    a.has("residual_before_ln") ? ResidualBeforeLn.parse(a.string("residual_before_ln", null)) : d.residualBeforeLn,
                    a.bool("adapter_residual_before_ln", d.adapterResidualBeforeLn),
                    a.bool("ln_before", d.lnBefore),
                    a.bool("ln_after", d.lnAfter),
                    a.choice("init_weights", d.initWeights, "bert", "houlsby", "mam_adapter"),
                    a.bool("is_parallel", d.isParallel),
                    a.has("scaling") ? Scaling.parse(a.string("scaling", null)) : d.scaling,
                    a.bool("use_gating", d.useGating),
                    leaveOut,
                    a.number("dropout", d.dropout),
                    a.has("init_weights_seed") ? Integer.valueOf(a.integer("init_weights_seed", 0)) : d.initWeightsSeed,
                    PhmOptions.read(a, d.phm));
            if (a.number("stochastic_depth", 0) != 0) throw new IllegalArgumentException("field 'stochastic_depth' (drop path) is not supported; use 0");
            if (a.bool("cross_adapter", false)) throw new IllegalArgumentException("field 'cross_adapter' is not supported: peft4j's models have no cross-attention");
            if (a.has("inv_adapter")) throw new IllegalArgumentException("field 'inv_adapter' (invertible adapters) is not supported");
            a.has("inv_adapter_reduction_factor"); // meaningful only with inv_adapter: accepted and unused without it
            return c;
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            boolean named = msg.startsWith(method + ":") || msg.startsWith(a.method() + ":");
            throw new IllegalArgumentException(named ? msg : a.method() + ": " + msg, e);
        }
    }

    /**
     * Which preset an AdapterHub bottleneck config (which has no "architecture" field) corresponds to,
     * from its fields; null if it is not a bottleneck config.
     */
    public static String methodOf(JsonNode c) {
        if (c == null || !c.isObject()) return null;
        JsonNode arch = c.get("architecture");
        if (arch != null && !arch.isNull() && !arch.asText().equals("bottleneck")) return null;
        if (!c.has("reduction_factor") || !(c.has("mh_adapter") || c.has("output_adapter"))) return null;
        boolean mh = c.path("mh_adapter").asBoolean(false);
        if (c.path("phm_layer").asBoolean(false)) return mh ? "compacter" : "compacter++";
        if (c.path("is_parallel").asBoolean(false)) return "learned".equals(c.path("scaling").asText()) ? "scaled_par_bn" : "par_bn";
        return mh ? "double_seq_bn" : "seq_bn";
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode j = JsonNodeFactory.instance.objectNode();
        j.put("mh_adapter", mhAdapter);
        j.put("output_adapter", outputAdapter);
        j.set("reduction_factor", reductionFactor.toJson());
        j.put("non_linearity", nonLinearity);
        j.put("original_ln_before", originalLnBefore);
        j.put("original_ln_after", originalLnAfter);
        j.set("residual_before_ln", residualBeforeLn.toJson());
        j.put("adapter_residual_before_ln", adapterResidualBeforeLn);
        j.put("ln_before", lnBefore);
        j.put("ln_after", lnAfter);
        j.put("init_weights", initWeights);
        j.put("is_parallel", isParallel);
        j.set("scaling", scaling.toJson());
        j.put("use_gating", useGating);
        ArrayNode lo = j.putArray("leave_out");
        leaveOut.forEach(lo::add);
        j.put("dropout", dropout);
        if (initWeightsSeed != null) j.put("init_weights_seed", initWeightsSeed);
        phm.writeTo(j);
        return j;
    }

    /** The string form: the method name with the fields that differ from its preset ({@code seq_bn[reduction_factor=8]}). */
    public String toSpec() {
        ObjectNode mine = toJson(), base = preset(method).toJson();
        List<String> fields = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = mine.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue().equals(base.get(e.getKey()))) continue;
            JsonNode v = e.getValue();
            String text;
            if (v.isArray()) {
                List<String> items = new ArrayList<>();
                v.forEach(i -> items.add(i.asText()));
                text = String.join("|", items);
            } else {
                text = v.isValueNode() ? v.asText() : v.toString();
            }
            fields.add(e.getKey() + "=" + text);
        }
        return fields.isEmpty() ? method : method + "[" + String.join(",", fields) + "]";
    }

    @Override
    public String toString() { return toSpec(); }

    BottleneckConfig withMethod(String m) {
        return new BottleneckConfig(m, mhAdapter, outputAdapter, reductionFactor, nonLinearity, originalLnBefore, originalLnAfter,
                residualBeforeLn, adapterResidualBeforeLn, lnBefore, lnAfter, initWeights, isParallel, scaling, useGating, leaveOut,
                dropout, initWeightsSeed, phm);
    }

    BottleneckConfig withScaling(Scaling s) {
        return new BottleneckConfig(method, mhAdapter, outputAdapter, reductionFactor, nonLinearity, originalLnBefore, originalLnAfter,
                residualBeforeLn, adapterResidualBeforeLn, lnBefore, lnAfter, initWeights, isParallel, s, useGating, leaveOut,
                dropout, initWeightsSeed, phm);
    }

    private BottleneckConfig withPhmDefaults(double rf, String act) {
        return new BottleneckConfig(method, mhAdapter, outputAdapter, ReductionFactor.of(rf), act, originalLnBefore, originalLnAfter,
                residualBeforeLn, adapterResidualBeforeLn, lnBefore, lnAfter, initWeights, isParallel, scaling, useGating, leaveOut,
                dropout, initWeightsSeed, phm.withLayer(true));
    }
}
