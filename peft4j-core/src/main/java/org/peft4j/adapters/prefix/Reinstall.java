package org.peft4j.adapters.prefix;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.tensor.Tensor;

/**
 * Swaps one method config of an installed adapter for another (an MLP prefix for its flat result)
 * through the model's public life cycle: the adapter is deleted and added again with the new config,
 * every other tensor the two versions share gets its old values back, and the active composition and the
 * trainable flags are restored.
 */
final class Reinstall {
    private Reinstall() {}

    /** Replaces {@code oldConfig} by {@code newConfig} in adapter {@code name} and sets tensor {@code tensorName} to {@code values}. */
    static void replace(PeftModel model, String name, MethodConfig oldConfig, MethodConfig newConfig, String tensorName, Tensor values) {
        AdapterEntry entry = model.adapter(name);
        List<MethodConfig> configs = new ArrayList<>(entry.configs());
        configs.set(configs.indexOf(oldConfig), newConfig);
        Map<String, Tensor> old = new LinkedHashMap<>(model.adapterParameters(name));
        boolean trainable = old.values().stream().anyMatch(Tensor::requiresGrad);
        Composition active = model.context().active();
        model.deleteAdapter(name);
        model.addAdapter(name, configs, 0);
        for (Map.Entry<String, Tensor> e : model.adapterParameters(name).entrySet()) {
            Tensor previous = old.get(e.getKey());
            if (previous != null && !e.getKey().equals(tensorName)) model.assign(e.getKey(), previous);
            e.getValue().requiresGrad(trainable);
        }
        model.assign(tensorName, values);
        if (active != null) model.setActive(active);
    }
}
