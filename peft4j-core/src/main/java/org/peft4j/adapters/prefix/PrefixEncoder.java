package org.peft4j.adapters.prefix;

import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.PrefixProvider;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.tensor.DType;
import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's prefix encoder ({@code prompt_encoder.<name>}): {@code embedding.weight} [n, L·2·token_dim]
 * holds the prefixes, or with the projection [n, token_dim] goes through {@code transform.0}
 * (Linear token_dim → encoder_hidden_size), tanh and {@code transform.2}. PEFT hands prefixes to the
 * model as past keys/values, so the real tokens' positions start after them.
 */
public final class PrefixEncoder extends Module implements PrefixProvider {
    private final int layers;
    private final int kvHeads;
    private final int headDim;

    private PrefixEncoder(Tensor embedding, int layers, int kvHeads, int headDim) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        registerModule("embedding", new Embedding(embedding));
    }

    /** The prefixes themselves: {@code embedding} [n, layers·2·kvHeads·headDim]. */
    public static PrefixEncoder flat(Tensor embedding, int layers, int kvHeads, int headDim) {
        PrefixEncoder e = new PrefixEncoder(embedding, layers, kvHeads, headDim);
        e.checkWidth(embedding.size(1), "embedding.weight");
        return e;
    }

    /** PEFT's projection: {@code embedding} [n, token_dim] → first → tanh → second [n, layers·2·kvHeads·headDim]. */
    public static PrefixEncoder projected(Tensor embedding, Linear first, Linear second, int layers, int kvHeads, int headDim) {
        if (first.inFeatures() != embedding.size(1) || second.inFeatures() != first.outFeatures()) {
            throw new IllegalArgumentException("prefix projection shapes do not chain: embedding " + java.util.Arrays.toString(embedding.shape())
                    + ", transform.0 " + first.inFeatures() + "→" + first.outFeatures() + ", transform.2 " + second.inFeatures() + "→"
                    + second.outFeatures());
        }
        PrefixEncoder e = new PrefixEncoder(embedding, layers, kvHeads, headDim);
        e.checkWidth(second.outFeatures(), "transform.2");
        ModuleDict transform = e.registerModule("transform", new ModuleDict());
        transform.registerModule("0", first);
        transform.registerModule("2", second);
        return e;
    }

    private void checkWidth(int width, String what) {
        if (width != layers * 2 * kvHeads * headDim) {
            throw new IllegalArgumentException("prefix " + what + " gives " + width + " values per token, needs " + layers + " layers × 2 × "
                    + kvHeads + " key/value heads × " + headDim);
        }
    }

    /** The tree path of adapter {@code name}'s encoder below {@link PeftModel#extras()}. */
    public static String path(String name) { return "prompt_encoder." + name; }

    public boolean isProjected() { return hasChild("transform"); }

    /** Every layer's prefixes as one matrix [n, L·2·kvHeads·headDim]. */
    public Tensor prefixMatrix() {
        Tensor emb = this.<Embedding>child("embedding").weight();
        if (!isProjected()) return emb;
        Module t = child("transform");
        return t.<Linear>child("2").forward(Activations.tanh(t.<Linear>child("0").forward(emb)));
    }

    @Override
    public Tensor[][] prefix(int batch, RandomGenerator rng) {
        return PrefixLayout.perLayer(prefixMatrix().unsqueeze(0), layers, kvHeads, headDim, batch);
    }

    @Override
    public boolean shiftsPositions() { return true; }

    /**
     * Evaluates adapter {@code name}'s projection once and keeps only its output as flat prefixes, as
     * PEFT does when it saves such an adapter; the outputs stay the same.
     */
    public static void eject(PeftModel model, String name) {
        PeftPrefixConfig config = null;
        for (MethodConfig c : model.adapter(name).configs()) if (c instanceof PeftPrefixConfig p && p.prefixProjection()) config = p;
        if (config == null) throw new IllegalArgumentException("adapter '" + name + "' has no prefix projection to eject");
        Tensor flat;
        try (var s = GradMode.noGrad()) {
            flat = ((PrefixEncoder) model.extras().module(path(name))).prefixMatrix().detachedCopy(DType.F32);
        }
        Reinstall.replace(model, name, config, config.asFlat(), path(name) + ".embedding.weight", flat);
    }
}
