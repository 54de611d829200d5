package org.peft4j.adapters.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/**
 * Finite-difference checks in float64 through a whole bottleneck site running {@code Fuse}, {@code Parallel}
 * and {@code Average}: gradients for the sublayer inputs h and x, the fusion layer's query/key/value, and
 * the adapters (which train in the first stage; in fusion's second stage they are frozen and only the
 * fusion layer's gradients exist).
 */
class SiteGradCheckTest {
    private static final int B = 2, T = 3, D = 6;

    @ParameterizedTest
    @CsvSource(delimiterString = " # ", value = {
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Fuse(a, b, c) # fuse # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Fuse(a, b, c) # fuse # false",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Fuse(a, b, c) # fuse[static=true] # true",
        "seq_bn[reduction_factor=2,non_linearity=gelu,residual_before_ln=false] # Fuse(a, b, c) # fuse[temperature=true,query_before_ln=true] # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh,residual_before_ln=post_add] # Fuse(a, b, c) # fuse[residual_before=true,value_before_softmax=false] # true",
        "double_seq_bn[reduction_factor=3,non_linearity=swish,scaling=channel] # Fuse(a, b, c) # fuse # true",
        "par_bn[reduction_factor=2,non_linearity=tanh,init_weights=bert] # Fuse(a, b, c) # fuse # true",
        "par_bn[reduction_factor=2,non_linearity=tanh,init_weights=bert] # Fuse(a, b, c) # fuse # false",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Fuse(Stack(a, b), c) # fuse # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Stack(a, Fuse(b, c)) # fuse # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Parallel(a, b) # - # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Parallel(a, Stack(b, c)) # - # false",
        "par_bn[reduction_factor=2,non_linearity=tanh,init_weights=bert] # Parallel(a, b) # - # true",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Average(a, b, c; 0.2, 0.5, 0.3) # - # true",
        "double_seq_bn[reduction_factor=2,non_linearity=tanh] # Average(a, b; 1, 3) # - # false",
        "seq_bn[reduction_factor=2,non_linearity=tanh] # Stack(Average(a, b; 1, 2), c) # - # true"})
    void gradientsThroughSite(String spec, String composition, String fusion, boolean postLn) {
        check(spec, composition, fusion, postLn, true);
        if (!fusion.equals("-")) check(spec, composition, fusion, postLn, false);
    }

    /** d(site output)/d(h, x, fusion tensors[, adapter tensors]); with {@code adaptersTrain} false the adapters are frozen. */
    private static void check(String spec, String composition, String fusionSpec, boolean postLn, boolean adaptersTrain) {
        BottleneckConfig c = (BottleneckConfig) MethodRegistry.parse(spec).get(0);
        AdapterContext context = new AdapterContext();
        Composition block = Composition.parse(composition);
        context.setActive(block);
        BottleneckSite site = new BottleneckSite(context, 0, Location.FFN);
        List<Tensor> inputs = new ArrayList<>(List.of(GradCheck.randn(1, B, T, D), GradCheck.randn(2, B, T, D)));
        long seed = 100;
        for (String name : block.adapterNames()) {
            BottleneckAdapter a = BottleneckAdapter.create(c, D, c.reductionFactor().downSize(D, 0), null, new SplittableRandom(seed));
            site.add(name, a);
            seed = toF64(a, seed, inputs, adaptersTrain);
        }
        if (!fusionSpec.equals("-")) {
            for (org.peft4j.adapters.composition.Fuse fuse : fuses(block)) {
                FusionConfig fc = (FusionConfig) MethodRegistry.parse(fusionSpec).get(0);
                FusionLayer layer = new FusionLayer(fc, D, new SplittableRandom(seed));
                layer.setSteps(900);
                site.addFusionLayer(FusionLayer.key(fuse), layer);
                seed = toF64(layer, seed, inputs, true);
            }
        }
        LayerNorm ln = postLn ? new LayerNorm(GradCheck.uniform(7, 0.5, 1.5, D).requiresGrad(false),
                GradCheck.uniform(8, -0.5, 0.5, D).requiresGrad(false), 1e-5) : null;
        Tensor probe = site.apply(inputs.get(0), inputs.get(1), ln, null);
        int copies = block instanceof org.peft4j.adapters.composition.Parallel p ? p.children().size() : 1;
        assertArrayEquals(new int[] {copies * B, T, D}, probe.shape(), composition + " output shape");
        GradCheck.check(spec + " " + composition + " " + fusionSpec + (postLn ? "" : " pre-LN") + (adaptersTrain ? "" : " adapters frozen"),
                in -> site.apply(in[0], in[1], ln, new ForwardState(null, null, false, null)), inputs.toArray(Tensor[]::new));
    }

    private static List<org.peft4j.adapters.composition.Fuse> fuses(Composition c) {
        List<org.peft4j.adapters.composition.Fuse> out = new ArrayList<>();
        if (c instanceof org.peft4j.adapters.composition.Fuse f) out.add(f);
        for (Composition child : c.children()) out.addAll(fuses(child));
        return out;
    }

    /** Replaces every tensor below {@code m} by a float64 one (trainable iff {@code train}) and adds it to {@code out}. */
    private static long toF64(Module m, long seed, List<Tensor> out, boolean train) {
        for (Module mod : m.namedModules().values()) {
            for (String p : List.copyOf(mod.ownParameters().keySet())) {
                Tensor t = GradCheck.uniform(seed++, -0.8, 0.8, mod.parameter(p).shape()).requiresGrad(train);
                mod.registerParameter(p, t);
                out.add(t);
            }
        }
        return seed;
    }
}
