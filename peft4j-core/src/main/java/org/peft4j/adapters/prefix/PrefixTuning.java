package org.peft4j.adapters.prefix;

import java.util.List;
import java.util.function.UnaryOperator;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.PrefixProvider;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Dropout;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * AdapterHub's prefix tuning module ({@code prefix_tuning.prefix_tunings.<name>.self_prefix}): in the
 * MLP form {@code wte.weight} [P, d] through {@code control_trans.0} (Linear d → bottleneck), the
 * activation and {@code control_trans.2} (Linear bottleneck → L·2·d_kv); in the flat form the prefixes
 * themselves as {@code control_trans} [P·L·2·d_kv]. Prefixes do not shift the real tokens' positions.
 */
public final class PrefixTuning extends Module implements PrefixProvider {
    private final int prefixLength;
    private final int layers;
    private final int kvHeads;
    private final int headDim;
    private final UnaryOperator<Tensor> activation;
    private final double dropout;
    private final RandomGenerator rng;

    private PrefixTuning(int prefixLength, int layers, int kvHeads, int headDim, String nonLinearity, double dropout, RandomGenerator rng) {
        this.prefixLength = prefixLength;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.activation = nonLinearity == null ? null : Activations.byName(nonLinearity);
        this.dropout = dropout;
        this.rng = rng;
    }

    /**
     * The MLP form.
     *
     * @param wte    the prefix embedding [P, d]
     * @param first  Linear(d → bottleneck)
     * @param second Linear(bottleneck → layers·2·kvHeads·headDim)
     * @param rng    the generator for dropout while training
     */
    public static PrefixTuning mlp(Tensor wte, Linear first, Linear second, String nonLinearity, double dropout,
                                   int layers, int kvHeads, int headDim, RandomGenerator rng) {
        int width = layers * 2 * kvHeads * headDim;
        if (wte.dim() != 2 || first.inFeatures() != wte.size(1) || second.inFeatures() != first.outFeatures() || second.outFeatures() != width) {
            throw new IllegalArgumentException("prefix MLP shapes do not chain: wte " + java.util.Arrays.toString(wte.shape())
                    + ", control_trans.0 " + first.inFeatures() + "→" + first.outFeatures() + ", control_trans.2 "
                    + second.inFeatures() + "→" + second.outFeatures() + " (needs " + width + " outputs)");
        }
        PrefixTuning p = new PrefixTuning(wte.size(0), layers, kvHeads, headDim, nonLinearity, dropout, rng);
        p.registerModule("wte", new Embedding(wte));
        ModuleDict trans = p.registerModule("control_trans", new ModuleDict());
        trans.registerModule("0", first);
        trans.registerModule("2", second);
        return p;
    }

    /** The flat form: {@code controlTrans} [P·layers·2·kvHeads·headDim] holds the prefixes themselves. */
    public static PrefixTuning flat(Tensor controlTrans, int prefixLength, double dropout, int layers, int kvHeads, int headDim,
                                    RandomGenerator rng) {
        long size = (long) prefixLength * layers * 2 * kvHeads * headDim;
        if (controlTrans.dim() != 1 || controlTrans.numel() != size) {
            throw new IllegalArgumentException("flat prefix control_trans has shape " + java.util.Arrays.toString(controlTrans.shape())
                    + ", needs [" + size + "] = " + prefixLength + " × " + layers + " layers × 2 × " + kvHeads + " heads × " + headDim);
        }
        PrefixTuning p = new PrefixTuning(prefixLength, layers, kvHeads, headDim, null, dropout, rng);
        p.registerParameter("control_trans", controlTrans);
        return p;
    }

    /** The tree path of adapter {@code name}'s module below {@link PeftModel#extras()}. */
    public static String path(String name) { return "prefix_tuning.prefix_tunings." + name + ".self_prefix"; }

    public boolean isFlat() { return activation == null; }

    /** Every layer's prefixes as one matrix [P, L·2·kvHeads·headDim] (the MLP's output, or the flat tensor). */
    public Tensor prefixMatrix() {
        if (isFlat()) return parameter("control_trans").reshape(prefixLength, -1);
        Module trans = child("control_trans");
        Tensor hidden = activation.apply(trans.<Linear>child("0").forward(this.<Embedding>child("wte").weight()));
        return trans.<Linear>child("2").forward(hidden);
    }

    @Override
    public Tensor[][] prefix(int batch, RandomGenerator forward) {
        Tensor kv = prefixMatrix().unsqueeze(0);
        if (isTraining() && dropout > 0) {
            // AdapterHub drops out each batch row's copy independently.
            kv = Dropout.apply(kv.expand(batch, kv.size(1), kv.size(2)).contiguous(), dropout, forward != null ? forward : rng, true);
        }
        return PrefixLayout.perLayer(kv, layers, kvHeads, headDim, batch);
    }

    @Override
    public boolean shiftsPositions() { return false; }

    /**
     * AdapterHub's eject: evaluates adapter {@code name}'s prefix MLP once and replaces its prefix tuning
     * by the flat form holding that result, which gives the same outputs. The adapter's other methods
     * (of a union) keep their tensors; its activation and trainability are kept.
     */
    public static void eject(PeftModel model, String name) {
        AdapterEntry entry = model.adapter(name);
        PrefixTuningConfig config = null;
        for (MethodConfig c : entry.configs()) if (c instanceof PrefixTuningConfig p && !p.flat()) config = p;
        if (config == null) throw new IllegalArgumentException("adapter '" + name + "' has no prefix tuning MLP to eject");
        PrefixTuning module = (PrefixTuning) model.extras().module(path(name));
        Tensor flat;
        try (var s = GradMode.noGrad()) {
            flat = module.prefixMatrix().detachedCopy(DType.F32).reshape(-1);
        }
        Reinstall.replace(model, name, config, config.asFlat(), path(name) + ".control_trans", flat);
    }

    /** Installed parameter names this module contributes, relative to {@link #path}. */
    static List<String> parameterNames(boolean flat) {
        return flat ? List.of("control_trans")
                : List.of("wte.weight", "control_trans.0.weight", "control_trans.0.bias", "control_trans.2.weight", "control_trans.2.bias");
    }
}
