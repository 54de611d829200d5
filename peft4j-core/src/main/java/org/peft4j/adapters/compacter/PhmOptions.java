package org.peft4j.adapters.compacter;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.ConfigArgs;

/**
 * The parameterized-hypercomplex-multiplication (PHM) settings of a bottleneck config, under AdapterHub's
 * field names. With {@code layer} on, both projections of the bottleneck are {@link PhmLayer}s
 * ({@code W = Σ_i A_i ⊗ B_i}); otherwise they are ordinary linear layers and the rest is unused.
 *
 * @param layer         {@code phm_layer}: whether the projections are PHM layers
 * @param dim           {@code phm_dim}: n, the number of Kronecker terms (in and out sizes must be divisible by it)
 * @param rank          {@code phm_rank}: r, the rank of B_i = U_i V_i when factorised
 * @param factorizedW   {@code factorized_phm_W}: B_i = U_i V_i (W_left, W_right) instead of a full B_i (W)
 * @param sharedRule    {@code shared_phm_rule}: one rule A per adapter, shared by all its PHM layers
 * @param bias          {@code phm_bias}: whether the PHM layers have a bias b
 * @param initRange     {@code phm_init_range}: std of the shared rule's normal init and of the "normal" weight init
 * @param ruleInit      {@code phm_c_init}: "normal" or "uniform" initialisation of the rule
 * @param weightInit    {@code hypercomplex_nonlinearity}: "glorot-uniform", "glorot-normal", "normal" or "phm" (as glorot-normal)
 */
public record PhmOptions(boolean layer, int dim, int rank, boolean factorizedW, boolean sharedRule, boolean bias,
                         double initRange, String ruleInit, String weightInit) {
    /** AdapterHub's PHM defaults, with the PHM layers off. */
    public static final PhmOptions DEFAULTS = new PhmOptions(false, 4, 1, true, true, true, 1e-4, "normal", "glorot-uniform");

    public PhmOptions {
        if (dim < 1) throw new IllegalArgumentException("phm_dim must be >= 1, got " + dim);
        if (rank < 1) throw new IllegalArgumentException("phm_rank must be >= 1, got " + rank);
        if (!(initRange > 0)) throw new IllegalArgumentException("phm_init_range must be > 0, got " + initRange);
    }

    /** The same options with PHM layers switched on or off. */
    public PhmOptions withLayer(boolean on) {
        return new PhmOptions(on, dim, rank, factorizedW, sharedRule, bias, initRange, ruleInit, weightInit);
    }

    /**
     * Reads the PHM fields, with {@code d} for absent ones. AdapterHub settings peft4j does not have
     * (a frozen rule, shared or factorised rules and weights across layers) are an error naming the field.
     */
    public static PhmOptions read(ConfigArgs a, PhmOptions d) {
        PhmOptions o = new PhmOptions(
                a.bool("phm_layer", d.layer),
                a.integer("phm_dim", d.dim),
                a.integer("phm_rank", d.rank),
                a.bool("factorized_phm_W", d.factorizedW),
                a.bool("shared_phm_rule", d.sharedRule),
                a.bool("phm_bias", d.bias),
                a.number("phm_init_range", d.initRange),
                a.choice("phm_c_init", d.ruleInit, "normal", "uniform"),
                a.choice("hypercomplex_nonlinearity", d.weightInit, "glorot-uniform", "glorot-normal", "normal", "phm"));
        unsupported(a, "learn_phm", true, "a frozen PHM rule");
        unsupported(a, "shared_W_phm", false, "PHM weights shared across layers");
        unsupported(a, "factorized_phm_rule", false, "a factorised PHM rule");
        return o;
    }

    private static void unsupported(ConfigArgs a, String field, boolean supported, String what) {
        if (a.bool(field, supported) != supported) {
            throw new IllegalArgumentException(a.method() + ": field '" + field + "' = " + !supported + " (" + what
                    + ") is not supported; peft4j supports only " + field + "=" + supported);
        }
    }

    /** Writes every field under AdapterHub's names. */
    public void writeTo(ObjectNode json) {
        json.put("phm_layer", layer);
        json.put("phm_dim", dim);
        json.put("phm_rank", rank);
        json.put("factorized_phm_W", factorizedW);
        json.put("shared_phm_rule", sharedRule);
        json.put("phm_bias", bias);
        json.put("phm_init_range", initRange);
        json.put("phm_c_init", ruleInit);
        json.put("hypercomplex_nonlinearity", weightInit);
    }
}
