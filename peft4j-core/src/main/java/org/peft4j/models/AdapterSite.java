package org.peft4j.models;

import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * Where bottleneck-style adapters plug into a transformer sublayer. Without a site the sublayer returns
 * {@code LN(x + h)} (post-LN encoders) or {@code x + h} (pre-LN decoders, {@code ln} null); a site
 * installed under the sublayer's adapter name takes over that combination (AdapterHub's
 * {@code adapters} / {@code attention_adapters} / {@code output_adapters} modules).
 */
public abstract class AdapterSite extends Module {
    /**
     * @param h        the sublayer's output after its projection and dropout
     * @param residual the sublayer's input x
     * @param ln       the pretrained LayerNorm after the residual, or null for pre-LN decoders
     */
    public abstract Tensor apply(Tensor h, Tensor residual, LayerNorm ln, ForwardState state);

    /** The sublayer's result with {@code site} (or none) installed under {@code name} of {@code owner}. */
    public static Tensor combine(Module owner, String name, Tensor h, Tensor residual, LayerNorm ln, ForwardState s) {
        if (owner.hasChild(name)) return owner.<AdapterSite>child(name).apply(h, residual, ln, s);
        return ln == null ? org.peft4j.ops.Elementwise.add(residual, h) : ln.forward(h, residual);
    }
}
