package org.peft4j.adapters.bottleneck;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.compacter.SharedPhmRule;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/**
 * Finite-difference checks in float64 through a whole bottleneck site: every option's path (LN
 * placements, residual modes, gating, learned and per-channel scaling, PHM projections, pre-LN
 * decoders) and the Stack / BatchSplit compositions, for the sublayer inputs and every adapter tensor.
 */
class BottleneckGradCheckTest {
    private static final int B = 2, T = 3, D = 8;

    @ParameterizedTest
    @ValueSource(strings = {
        "seq_bn[reduction_factor=2,non_linearity=tanh]",
        "seq_bn[reduction_factor=2,non_linearity=gelu_new,residual_before_ln=post_add]",
        "seq_bn[reduction_factor=4,non_linearity=gelu,residual_before_ln=false,original_ln_after=false]",
        "double_seq_bn[reduction_factor=2,non_linearity=gelu,ln_before=true,ln_after=true,use_gating=true,scaling=channel]",
        "double_seq_bn[reduction_factor=2,non_linearity=swish,ln_after=true,adapter_residual_before_ln=true,scaling=0.5]",
        "par_bn[reduction_factor=2,non_linearity=tanh,init_weights=bert]",
        "scaled_par_bn[reduction_factor=2,non_linearity=swish,use_gating=true,ln_after=true,init_weights=bert]",
        "compacter++[reduction_factor=2,non_linearity=tanh]",
        "compacter[reduction_factor=2,phm_dim=2,phm_rank=2,non_linearity=gelu,use_gating=true]",
        "compacter[reduction_factor=2,shared_phm_rule=false,factorized_phm_W=false,phm_bias=false,non_linearity=tanh]"})
    void postLnSublayer(String spec) {
        check(spec, true, "a");
        check(spec, false, "a");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Stack(a, b)", "BatchSplit(a, b; 1, 1)", "Stack(a, BatchSplit(b, a; 1, 1))"})
    void compositions(String composition) {
        check("seq_bn[reduction_factor=2,non_linearity=tanh]", true, composition);
    }

    /** Checks d(site output)/d(h, x, every adapter tensor) with or without the sublayer's LayerNorm. */
    private static void check(String spec, boolean postLn, String composition) {
        BottleneckConfig c = (BottleneckConfig) MethodRegistry.parse(spec).get(0);
        AdapterContext context = new AdapterContext();
        context.setActive(Composition.parse(composition));
        BottleneckSite site = new BottleneckSite(context, 0, Location.FFN);
        List<Tensor> inputs = new ArrayList<>(List.of(GradCheck.randn(1, B, T, D), GradCheck.randn(2, B, T, D)));
        long seed = 100;
        for (String name : context.active().adapterNames()) {
            ModuleDict shared = new ModuleDict();
            Module rule = c.phm().layer() && c.phm().sharedRule() ? SharedPhmRule.install(shared, name, c.phm(), new SplittableRandom(1)) : null;
            BottleneckAdapter a = BottleneckAdapter.create(c, D, c.reductionFactor().downSize(D, 0), rule, new SplittableRandom(seed));
            site.add(name, a);
            seed = toF64(a, seed, inputs);
            seed = toF64(shared, seed, inputs);
        }
        LayerNorm ln = postLn ? new LayerNorm(GradCheck.uniform(7, 0.5, 1.5, D).requiresGrad(false),
                GradCheck.uniform(8, -0.5, 0.5, D).requiresGrad(false), 1e-5) : null;
        ForwardState pass = new ForwardState(null, null, false, null);
        GradCheck.check(spec + " " + composition + (postLn ? "" : " pre-LN"), in -> site.apply(in[0], in[1], ln, pass), inputs.toArray(Tensor[]::new));
    }

    /** Replaces every tensor below {@code m} by a float64 one that requires a gradient and adds it to {@code out}. */
    private static long toF64(Module m, long seed, List<Tensor> out) {
        for (Module mod : m.namedModules().values()) {
            for (String p : List.copyOf(mod.ownParameters().keySet())) {
                Tensor t = GradCheck.uniform(seed++, -0.8, 0.8, mod.parameter(p).shape());
                mod.registerParameter(p, t);
                out.add(t);
            }
        }
        return seed;
    }
}
