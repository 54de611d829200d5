package org.peft4j.adapters.prefix;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.ops.Activations;

/**
 * AdapterHub's prefix tuning ({@code prefix_tuning}, {@code prefix_tuning_flat}): {@code prefixLength}
 * trainable keys and values per layer and key/value head, trained through the MLP
 * {@code Linear(d, bottleneckSize) → nonLinearity → Linear(bottleneckSize, L·2·d_kv)} over an embedding
 * [prefixLength, d], or directly when {@code flat}.
 *
 * @param prefixLength  virtual keys/values per layer (30)
 * @param flat          train the prefixes themselves instead of the MLP's input and weights
 * @param bottleneckSize the MLP's hidden width (512)
 * @param nonLinearity  the MLP's activation ({@code tanh})
 * @param dropout       dropout on the prefixes while training
 * @param encoderPrefix for encoder-decoder models, whether the encoder gets prefixes (no effect on the
 *                      encoder-only and decoder-only models peft4j runs)
 * @param crossPrefix   for encoder-decoder models, whether cross-attention gets prefixes (no effect here)
 * @param leaveOut      layer indices without prefixes
 * @param useGating     UniPELT's gate on the prefix
 * @param sharedGating  one gate for keys and values (with {@code useGating})
 */
public record PrefixTuningConfig(int prefixLength, boolean flat, int bottleneckSize, String nonLinearity, double dropout,
                                 boolean encoderPrefix, boolean crossPrefix, List<Integer> leaveOut, boolean useGating,
                                 boolean sharedGating) implements MethodConfig {
    public static final String NAME = "prefix_tuning";
    public static final String FLAT_NAME = "prefix_tuning_flat";

    public PrefixTuningConfig {
        leaveOut = List.copyOf(leaveOut);
        if (prefixLength < 1) throw new IllegalArgumentException(NAME + ": prefix_length must be at least 1, got " + prefixLength);
        if (!flat && bottleneckSize < 1) throw new IllegalArgumentException(NAME + ": bottleneck_size must be at least 1, got " + bottleneckSize);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException(NAME + ": dropout must be in [0, 1), got " + dropout);
        try {
            Activations.byName(nonLinearity);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(NAME + ": field 'non_linearity': " + e.getMessage(), e);
        }
    }

    /** DESIGN.md's defaults: 30 prefixes through a 512-wide tanh MLP ({@code flat} for {@code prefix_tuning_flat}). */
    public static PrefixTuningConfig defaults(boolean flat) {
        return new PrefixTuningConfig(30, flat, 512, "tanh", 0.0, true, true, List.of(), false, true);
    }

    /** Reads the string/JSON form; {@code prefix_tuning_flat} defaults {@code flat} to true. */
    static PrefixTuningConfig parse(ConfigArgs args) {
        PrefixTuningConfig d = defaults(FLAT_NAME.equals(args.method()));
        List<Integer> leaveOut = args.list("leave_out").stream().map(s -> {
            try {
                return Integer.parseInt(s);
            } catch (NumberFormatException e) {
                throw args.bad("leave_out", s, "a list of layer indices");
            }
        }).toList();
        return new PrefixTuningConfig(args.integer("prefix_length", d.prefixLength), args.bool("flat", d.flat),
                args.integer("bottleneck_size", d.bottleneckSize), args.string("non_linearity", d.nonLinearity),
                args.number("dropout", d.dropout), args.bool("encoder_prefix", d.encoderPrefix),
                args.bool("cross_prefix", d.crossPrefix), leaveOut, args.bool("use_gating", d.useGating),
                args.bool("shared_gating", d.sharedGating));
    }

    /** The same prefix tuning trained flat (what {@link PrefixTuning#eject} leaves). */
    public PrefixTuningConfig asFlat() {
        return new PrefixTuningConfig(prefixLength, true, bottleneckSize, nonLinearity, dropout, encoderPrefix, crossPrefix,
                leaveOut, useGating, sharedGating);
    }

    /** The number of layers that get prefixes out of {@code numLayers}. */
    int prefixedLayers(int numLayers) {
        for (int l : leaveOut) {
            if (l < 0 || l >= numLayers) {
                throw new IllegalArgumentException(NAME + ": leave_out names layer " + l + ", but the model has layers 0.." + (numLayers - 1));
            }
        }
        return numLayers - (int) leaveOut.stream().distinct().count();
    }

    @Override
    public String method() { return flat ? FLAT_NAME : NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("prefix_length", prefixLength);
        o.put("flat", flat);
        o.put("bottleneck_size", bottleneckSize);
        o.put("non_linearity", nonLinearity);
        o.put("dropout", dropout);
        o.put("encoder_prefix", encoderPrefix);
        o.put("cross_prefix", crossPrefix);
        ArrayNode lo = o.putArray("leave_out");
        leaveOut.forEach(lo::add);
        o.put("use_gating", useGating);
        o.put("shared_gating", sharedGating);
        return o;
    }
}
