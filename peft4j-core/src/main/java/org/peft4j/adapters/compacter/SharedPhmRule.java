package org.peft4j.adapters.compacter;

import java.util.random.RandomGenerator;
import org.peft4j.adapters.bottleneck.Init;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;

/**
 * The PHM rule A [n, n, n] shared by every PHM layer of one adapter, kept among the model's extras as
 * {@code shared_parameters.<adapter>.phm_rule} (AdapterHub's name, without its base-model prefix).
 */
public final class SharedPhmRule {
    /** The container of shared parameters under {@code PeftModel.extras()}. */
    public static final String CONTAINER = "shared_parameters";

    private SharedPhmRule() {}

    /** Creates {@code shared_parameters.<adapter>} with its rule (N(0, phm_init_range²), or U(-1, 1)) and returns it. */
    public static Module install(ModuleDict extras, String adapter, PhmOptions o, RandomGenerator rng) {
        if (!extras.hasChild(CONTAINER)) extras.registerModule(CONTAINER, new ModuleDict());
        Module shared = extras.child(CONTAINER);
        if (shared.hasChild(adapter)) throw new IllegalStateException(CONTAINER + "." + adapter + " already exists");
        ModuleDict own = shared.registerModule(adapter, new ModuleDict());
        int n = o.dim();
        own.registerParameter("phm_rule", o.ruleInit().equals("uniform") ? Init.uniform(rng, 1, n, n, n) : Init.normal(rng, o.initRange(), n, n, n));
        return own;
    }

    /** The tree name of an adapter's shared rule. */
    public static String treeName(String adapter) { return CONTAINER + "." + adapter + ".phm_rule"; }
}
