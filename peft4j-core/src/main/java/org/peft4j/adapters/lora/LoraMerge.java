package org.peft4j.adapters.lora;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/**
 * Folding LoRA/DoRA adapters into the base weights, as PEFT's {@code merge_adapter},
 * {@code unmerge_adapter} and {@code merge_and_unload}. Merging never writes into the loaded weight
 * (which may be a read-only memory-mapped file): the layer gets a merged copy, and unmerging puts the
 * original tensor back exactly.
 */
public final class LoraMerge {
    private LoraMerge() {}

    /** The base weight with {@code adapter} folded in, in the layer's storage layout ([in, out] for Conv1D), as a fresh copy. */
    public static Tensor mergedWeight(AdaptedLinear layer, LoraLayer adapter) {
        Linear base = layer.base();
        Tensor stored = base.weight().detachedCopy(base.weight().computeType());
        Tensor outIn = base.fanInFanOut() ? stored.transpose(0, 1) : stored;
        Tensor merged = adapter.merge(outIn, layer);
        if (merged != outIn) outIn.copyFrom(merged);
        return stored;
    }

    /**
     * Merges adapter {@code name} into every layer it adapts; the adapter then adds nothing at forward
     * time (its effect is in the weights) until {@link #unmerge}.
     */
    public static void merge(PeftModel model, String name) {
        for (Map.Entry<String, AdaptedLinear> e : layers(model, name).entrySet()) {
            AdaptedLinear layer = e.getValue();
            LoraLayer lora = (LoraLayer) layer.adapters().get(name);
            if (lora.isMerged()) continue;
            Tensor original = layer.base().weight();
            layer.base().registerParameter("weight", mergedWeight(layer, lora));
            lora.markMerged(original);
        }
    }

    /** Undoes {@link #merge}: every layer gets its original weight back. */
    public static void unmerge(PeftModel model, String name) {
        for (AdaptedLinear layer : layers(model, name).values()) {
            LoraLayer lora = (LoraLayer) layer.adapters().get(name);
            if (!lora.isMerged()) continue;
            layer.base().registerParameter("weight", lora.unmergedWeight());
            lora.markMerged(null);
        }
    }

    /**
     * Merges adapter {@code name} for good and removes it: a layer that carries no other adapter becomes
     * a plain {@link Linear} (a {@link Conv1D} for GPT-2) again, with the merged weight and its bias
     * (trained, if the adapter trained biases), so the model saves as an ordinary Hugging Face checkpoint.
     */
    public static void mergeAndUnload(PeftModel model, String name) {
        for (MethodConfig c : model.adapter(name).configs()) {
            if (!(c instanceof LoraConfig)) {
                throw new IllegalArgumentException("adapter '" + name + "' also has a " + c.method() + " part, which cannot be merged into weights");
            }
        }
        for (Map.Entry<String, AdaptedLinear> e : layers(model, name).entrySet()) {
            AdaptedLinear layer = e.getValue();
            LoraLayer lora = (LoraLayer) layer.adapters().get(name);
            Tensor weight = lora.isMerged() ? layer.base().weight() : mergedWeight(layer, lora);
            if (layer.adapters().size() == 1) {
                Linear base = layer.base();
                model.base().replaceModule(e.getKey(), base.fanInFanOut() ? new Conv1D(weight, base.bias()) : new Linear(weight, base.bias()));
            } else {
                layer.base().registerParameter("weight", weight);
                lora.markMerged(null);
            }
        }
        model.deleteAdapter(name);
    }

    /** The adapted layers that carry LoRA adapter {@code name}, by dotted path. */
    static Map<String, AdaptedLinear> layers(PeftModel model, String name) {
        model.adapter(name);
        Map<String, AdaptedLinear> out = new LinkedHashMap<>();
        List<String> notLora = new ArrayList<>();
        for (Map.Entry<String, Module> e : model.base().namedModules().entrySet()) {
            if (!(e.getValue() instanceof AdaptedLinear layer) || !layer.adapters().containsKey(name)) continue;
            if (layer.adapters().get(name) instanceof LoraLayer) out.put(e.getKey(), layer);
            else notLora.add(e.getKey());
        }
        if (!notLora.isEmpty()) throw new IllegalArgumentException("adapter '" + name + "' is not LoRA on " + notLora);
        return out;
    }
}
