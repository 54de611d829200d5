package org.peft4j.adapters.bitfit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.ModelShape;
import org.peft4j.adapters.PeftModel;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * BitFit (Ben Zaken et al., 2022): only bias terms train. Unlike the other methods it changes the base
 * model itself — its tensors are the base's biases — so it applies whether or not the adapter is
 * active; deleting it gives the base its own biases back ({@link #uninstall}).
 *
 * <p>{@link #install} replaces each selected bias by a trainable heap copy (F32, or F64 for an F64
 * model): a memory-mapped checkpoint's biases are read-only and could not be updated in place, and the
 * untouched original is what {@link #uninstall} restores. With {@code add_missing} each selected linear
 * layer without a bias gets a zero one, which leaves the output unchanged until trained.
 */
public final class BitFitMethod implements AdapterMethod {
    static final String NAME = "bitfit";

    /**
     * Each installed bias (by identity; weak, so a dropped model frees it) with its adapter and the
     * base bias it replaced, null for an added one.
     */
    private static final Map<Tensor, Installed> INSTALLED = Collections.synchronizedMap(new WeakHashMap<>());

    private record Installed(String adapter, Tensor original) {}

    @Override
    public String name() { return NAME; }

    @Override
    public MethodConfig parse(ConfigArgs args) { return BitFitConfig.parse(args); }

    /**
     * Makes the selected biases trainable copies (adding zero ones with {@code add_missing}); returns the
     * dotted names of the existing biases it unfroze (the added ones are new tensors).
     *
     * @throws IllegalArgumentException when the model has no bias and {@code add_missing} is off, an
     *     entry of {@code biases} selects nothing, or a selected bias already belongs to another adapter
     */
    @Override
    public List<String> install(PeftModel model, String adapterName, MethodConfig config, long seed) {
        BitFitConfig c = (BitFitConfig) config;
        List<BiasSite> selected = BiasSite.select(BiasSite.of(model.base()), c, model.config());
        checkUnowned(model, adapterName, selected);
        List<String> unfrozen = new ArrayList<>();
        for (BiasSite s : selected) {
            Module owner = s.owner();
            Tensor original = owner.parameter("bias");
            Tensor trainable;
            if (original != null) {
                trainable = original.detachedCopy(original.dtype() == DType.F64 ? DType.F64 : DType.F32);
                unfrozen.add(s.tensorName());
            } else {
                Tensor weight = ((Linear) owner).weight();
                trainable = Tensor.zeros(weight.dtype() == DType.F64 ? DType.F64 : DType.F32, s.size());
            }
            trainable.requiresGrad(true);
            owner.registerParameter("bias", trainable);
            INSTALLED.put(trainable, new Installed(adapterName, original));
        }
        return unfrozen;
    }

    /** A bias two adapters trained would make deleting either undo the other's work. */
    private static void checkUnowned(PeftModel model, String adapterName, List<BiasSite> selected) {
        Map<Tensor, String> owners = new IdentityHashMap<>();
        Map<String, Tensor> all = model.namedParameters();
        for (String adapter : model.adapterNames()) {
            for (String p : model.adapter(adapter).parameterNames()) if (all.get(p) != null) owners.put(all.get(p), adapter);
        }
        for (BiasSite s : selected) {
            Tensor bias = s.owner().parameter("bias");
            if (bias == null) continue;
            Installed installed = INSTALLED.get(bias);
            String owner = owners.get(bias);
            // an earlier method of this same union, or an adapter still on the model
            if (installed != null && (installed.adapter().equals(adapterName) || model.adapterNames().contains(installed.adapter()))) {
                owner = installed.adapter();
            }
            if (owner != null) {
                throw new IllegalArgumentException("bitfit: bias '" + s.tensorName() + "' already belongs to adapter '" + owner
                        + "'; choose disjoint biases or delete that adapter first");
            }
        }
    }

    /**
     * Gives the base model back what {@link #install} took for {@code adapterName}: each unfrozen bias is
     * replaced by the frozen original (so trained values are dropped) and each added bias is removed.
     * Found by identity, so it works whatever the biases' names have become since.
     */
    @Override
    public void uninstall(PeftModel model, String adapterName) {
        for (Module m : model.base().namedModules().values()) {
            Tensor bias = m.parameter("bias");
            Installed installed = bias == null ? null : INSTALLED.get(bias);
            if (installed == null || !installed.adapter().equals(adapterName)) continue;
            INSTALLED.remove(bias);
            m.registerParameter("bias", installed.original());
        }
    }

    /** The biases this config trains, by Hugging Face name and shape: existing ones and, with add_missing, the added ones. */
    @Override
    public Map<String, int[]> parameterShapes(ModelShape model, String adapterName, MethodConfig config) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (BiasSite s : BiasSite.select(BiasSite.of(model), (BitFitConfig) config, model.config())) {
            out.put(s.tensorName(), new int[] {s.size()});
        }
        return out;
    }
}
