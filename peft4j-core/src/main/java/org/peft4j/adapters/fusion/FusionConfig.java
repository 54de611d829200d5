package org.peft4j.adapters.fusion;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;

/**
 * AdapterFusion's configuration, with AdapterHub's {@code AdapterFusionConfig} fields and defaults
 * (string form {@code fuse[adapters=a|b|c]}, {@code fuse[adapters=a|b,static=true,temperature=true]}).
 *
 * <p>The default is AdapterHub's {@code dynamic} fusion (query, key and value projections, value
 * regularisation, value initialised near the identity). {@code static=true} selects AdapterHub's
 * {@code static} preset instead: no value projection (V is the identity, fixed), no regularisation. Any
 * field given explicitly overrides the preset.
 *
 * @param adapters           the fused adapters, in order (their names key the fusion layers: {@code a,b,c});
 *                           empty in a config read from an AdapterHub file, whose names sit beside it
 * @param query              whether q goes through a learned projection W_Q (else the identity)
 * @param key                whether the u_i go through W_K
 * @param value              whether the u_i go through W_V
 * @param queryBeforeLn      query = the sublayer output before the last adapter's pre-forward LayerNorm
 * @param regularization     whether training adds the value regularisation 0.01·Σ‖I − W_V‖² to the loss
 * @param residualBefore     add the residual to every u_i (keys and values) instead of to the output
 * @param temperature        softmax temperature falling from 50 by 0.05 per training step to 1 (else 1)
 * @param valueBeforeSoftmax apply W_V to each u_i (true) or to the weighted sum (false)
 * @param valueInitialized   initialise W_V to the identity with 1e-6 elsewhere (else normal(0.02))
 * @param dropoutProb        dropout on the attention scores while training; null means none (AdapterHub
 *                           then uses the model's {@code attention_probs_dropout_prob}, which peft4j's
 *                           models do not apply anywhere, so the fusion does not either)
 */
public record FusionConfig(List<String> adapters, boolean query, boolean key, boolean value, boolean queryBeforeLn,
                           boolean regularization, boolean residualBefore, boolean temperature, boolean valueBeforeSoftmax,
                           boolean valueInitialized, Double dropoutProb) implements MethodConfig {
    public FusionConfig {
        adapters = List.copyOf(adapters);
        if (adapters.stream().distinct().count() != adapters.size()) {
            throw new IllegalArgumentException(FusionMethod.NAME + ": field 'adapters' names an adapter twice: " + adapters);
        }
        if (dropoutProb != null && !(dropoutProb >= 0 && dropoutProb < 1)) {
            throw new IllegalArgumentException(FusionMethod.NAME + ": field 'dropout_prob' must be in [0, 1), got " + dropoutProb);
        }
    }

    /** AdapterHub's {@code dynamic} fusion over {@code adapters}. */
    public static FusionConfig dynamic(List<String> adapters) {
        return new FusionConfig(adapters, true, true, true, false, true, false, false, true, true, null);
    }

    /** AdapterHub's {@code static} fusion over {@code adapters}: query and key only. */
    public static FusionConfig staticFusion(List<String> adapters) {
        return new FusionConfig(adapters, true, true, false, false, false, false, false, true, false, null);
    }

    /** The config from the string or JSON form's fields (AdapterHub's names, plus {@code adapters} and {@code static}). */
    public static FusionConfig read(ConfigArgs args) {
        List<String> adapters = args.list("adapters");
        FusionConfig p = args.bool("static", false) ? staticFusion(adapters) : dynamic(adapters);
        Double dropout = args.has("dropout_prob") ? args.number("dropout_prob", 0) : null;
        return new FusionConfig(adapters,
                args.bool("query", p.query), args.bool("key", p.key), args.bool("value", p.value),
                args.bool("query_before_ln", p.queryBeforeLn), args.bool("regularization", p.regularization),
                args.bool("residual_before", p.residualBefore), args.bool("temperature", p.temperature),
                args.bool("value_before_softmax", p.valueBeforeSoftmax), args.bool("value_initialized", p.valueInitialized),
                dropout);
    }

    /** The same config over other adapters. */
    public FusionConfig withAdapters(List<String> names) {
        return new FusionConfig(names, query, key, value, queryBeforeLn, regularization, residualBefore, temperature,
                valueBeforeSoftmax, valueInitialized, dropoutProb);
    }

    /** The dropout probability on the scores (0 when unset). */
    public double dropout() { return dropoutProb == null ? 0.0 : dropoutProb; }

    @Override
    public String method() { return FusionMethod.NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = fieldsJson();
        adapters.forEach(o.putArray("adapters")::add);
        return o;
    }

    /** Every field except {@code adapters}, in AdapterHub's {@code adapter_fusion_config.json} "config" layout. */
    public ObjectNode fieldsJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (dropoutProb == null) o.putNull("dropout_prob");
        else o.put("dropout_prob", dropoutProb);
        o.put("key", key);
        o.put("query", query);
        o.put("query_before_ln", queryBeforeLn);
        o.put("regularization", regularization);
        o.put("residual_before", residualBefore);
        o.put("temperature", temperature);
        o.put("value", value);
        o.put("value_before_softmax", valueBeforeSoftmax);
        o.put("value_initialized", valueInitialized);
        return o;
    }
}
