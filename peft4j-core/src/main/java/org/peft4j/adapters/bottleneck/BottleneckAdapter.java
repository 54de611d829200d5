package org.peft4j.adapters.bottleneck;

import java.util.random.RandomGenerator;
import org.peft4j.adapters.bottleneck.BottleneckConfig.ResidualBeforeLn;
import org.peft4j.adapters.compacter.PhmLayer;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.Tensor;

/**
 * One bottleneck adapter at one sublayer, in AdapterHub's layout and with its semantics:
 * {@code adapter_down.0} (the down projection; with {@code ln_before} the new LayerNorm is
 * {@code adapter_down.0} and the projection {@code adapter_down.1}), {@code adapter_up}, {@code scaling}
 * when learned, {@code adapter_norm_after}, {@code gate}.
 *
 * <p>Its work at a sublayer comes in three steps, so that composition blocks can interleave them:
 * {@link #preForward} picks the adapter's input and residual, {@link #forward} runs the bottleneck, and
 * {@link #postForward} (of the last adapter only) applies the sublayer's own residual and LayerNorm.
 * The projections are any {@link Layer} mapping [.., in] to [.., out] (linear, PHM, or a subclass with
 * sparsity), so variants reuse the residual logic unchanged.
 */
public class BottleneckAdapter extends Module {
    /** torch.nn.LayerNorm's default epsilon, used by the adapter's own LayerNorms. */
    static final double ADAPTER_LN_EPS = 1e-5;

    private final BottleneckConfig config;
    private final String downName;

    /** An adapter with the given projections; the LayerNorms, scaling and gate it adds itself (gate init from {@code rng}). */
    public BottleneckAdapter(BottleneckConfig config, int hidden, Layer down, Layer up, RandomGenerator rng) {
        this.config = config;
        ModuleDict downSeq = new ModuleDict();
        if (config.lnBefore()) downSeq.registerModule("0", newLayerNorm(hidden));
        downName = config.lnBefore() ? "1" : "0";
        downSeq.registerModule(downName, down);
        registerModule("adapter_down", downSeq);
        registerModule("adapter_up", up);
        int[] scalingShape = config.scaling().parameterShape(hidden);
        if (scalingShape != null) registerParameter("scaling", Init.ones(scalingShape));
        if (config.lnAfter()) registerModule("adapter_norm_after", newLayerNorm(hidden));
        if (config.useGating()) registerModule("gate", gate(config, hidden, rng));
    }

    /**
     * An adapter of width {@code hidden} with bottleneck {@code down} and the config's projections: linear
     * layers initialised by {@code init_weights}, or PHM layers reading the shared rule from {@code ruleOwner}.
     */
    public static BottleneckAdapter create(BottleneckConfig c, int hidden, int down, Module ruleOwner, RandomGenerator rng) {
        Layer d, u;
        if (c.phm().layer()) {
            d = new PhmLayer(hidden, down, c.phm(), ruleOwner, rng);
            u = new PhmLayer(down, hidden, c.phm(), ruleOwner, rng);
        } else {
            d = linear(c.initWeights(), true, down, hidden, rng);
            u = linear(c.initWeights(), false, hidden, down, rng);
        }
        return new BottleneckAdapter(c, hidden, d, u, rng);
    }

    /** A projection initialised as AdapterHub does for {@code init_weights}. */
    private static Linear linear(String init, boolean isDown, int out, int in, RandomGenerator rng) {
        Tensor w = switch (init) {
            case "bert" -> Init.normal(rng, 0.02, out, in);
            case "houlsby" -> Init.truncatedNormal(rng, 1e-2, -2e-2, 2e-2, out, in);
            case "mam_adapter" -> isDown ? Init.kaimingUniform(rng, out, in) : Init.zeros(out, in);
            default -> throw new IllegalArgumentException("init_weights '" + init + "'; valid: bert, houlsby, mam_adapter");
        };
        return new Linear(w, Init.zeros(out));
    }

    /** The gate Linear(hidden → 1): normal(0.02) with a zero bias, or torch's default init under "houlsby". */
    private static Linear gate(BottleneckConfig c, int hidden, RandomGenerator rng) {
        if (c.initWeights().equals("houlsby")) {
            return new Linear(Init.kaimingUniform(rng, 1, hidden), Init.uniform(rng, 1 / Math.sqrt(hidden), 1));
        }
        return new Linear(Init.normal(rng, 0.02, 1, hidden), Init.zeros(1));
    }

    private static LayerNorm newLayerNorm(int hidden) {
        return new LayerNorm(Init.ones(hidden), Init.zeros(hidden), ADAPTER_LN_EPS);
    }

    public BottleneckConfig config() { return config; }

    /** The down projection (without the optional input LayerNorm). */
    public Layer down() { return child("adapter_down").<Layer>child(downName); }

    public Layer up() { return child("adapter_up"); }

    // ------------------------------------------------------------------ the three steps

    /**
     * Chooses this adapter's input and residual from the state (AdapterHub's {@code pre_forward}). A
     * parallel adapter reads x; a sequential one reads h, or LN(x + h) with {@code original_ln_before}
     * (x + h without a LayerNorm), and its residual is h ({@code residual_before_ln}), its input
     * ({@code false}) or the pre-LN sum x + h ({@code post_add}).
     */
    public BottleneckState preForward(BottleneckState s) {
        if (config.isParallel()) return s.withHidden(s.input()).withResidual(s.input());
        ResidualBeforeLn mode = config.residualBeforeLn();
        Tensor hidden = s.hidden(), residual = mode == ResidualBeforeLn.TRUE ? s.hidden() : null;
        if (config.originalLnBefore()) {
            if (mode == ResidualBeforeLn.POST_ADD || s.ln() == null) {
                Tensor sum = Elementwise.add(hidden, s.input());
                if (mode == ResidualBeforeLn.POST_ADD) residual = sum;
                hidden = s.ln() == null ? sum : s.ln().forward(sum);
            } else {
                hidden = s.ln().forward(hidden, s.input());
            }
        }
        if (mode == ResidualBeforeLn.FALSE) residual = hidden;
        return s.withHidden(hidden).withResidual(residual);
    }

    /**
     * The query AdapterFusion uses for this adapter's placement: x for a parallel adapter, else the
     * hidden states before ({@code queryBeforeLn}) or after {@link #preForward}.
     */
    public Tensor fusionQuery(BottleneckState before, BottleneckState after, boolean queryBeforeLn) {
        if (config.isParallel()) return before.input();
        return queryBeforeLn ? before.hidden() : after.hidden();
    }

    /** The bottleneck output and the adapter output. */
    public record Output(Tensor hidden, Tensor up) {}

    /**
     * Runs the bottleneck on {@code z} (AdapterHub's {@code forward}): {@code up = s·W_up φ(W_down z)},
     * dropout, the gate, then for a sequential adapter its residual (before or after {@code ln_after});
     * a parallel adapter adds no residual here.
     */
    public Output forward(Tensor z, Tensor residual, ForwardState pass) {
        Tensor in = config.lnBefore() ? child("adapter_down").<LayerNorm>child("0").forward(z) : z;
        Tensor up = scale(up().forward(downActivated(in)));
        Tensor out = pass == null ? up : pass.dropout(up, config.dropout());
        if (config.useGating()) {
            Tensor g = Activations.sigmoid(this.<Layer>child("gate").forward(z));
            out = Elementwise.mul(out, Reductions.mean(g, 1, true));
        }
        if (config.isParallel()) {
            if (config.lnAfter()) out = this.<LayerNorm>child("adapter_norm_after").forward(out);
            return new Output(out, up);
        }
        if (config.adapterResidualBeforeLn()) out = Elementwise.add(out, residual);
        if (config.lnAfter()) out = this.<LayerNorm>child("adapter_norm_after").forward(out);
        if (!config.adapterResidualBeforeLn()) out = Elementwise.add(out, residual);
        return new Output(out, up);
    }

    /**
     * Finishes the sublayer after the last adapter (AdapterHub's {@code post_forward}): a parallel
     * adapter's output is added to the sublayer output h; then, with {@code original_ln_after},
     * LN(hidden + x) (hidden + x for pre-LN decoders).
     */
    public Tensor postForward(Tensor hidden, Tensor h, Tensor x, LayerNorm ln) {
        Tensor out = config.isParallel() ? Elementwise.add(hidden, h) : hidden;
        if (!config.originalLnAfter()) return out;
        return ln == null ? Elementwise.add(out, x) : ln.forward(out, x);
    }

    /** φ(W_down z + b), with the bias add and activation fused for a linear projection. */
    private Tensor downActivated(Tensor z) {
        Layer d = down();
        if (d instanceof Linear l && !l.fanInFanOut()) {
            return Activations.addBiasAct(org.peft4j.ops.Linear.linear(z, l.weight(), null), l.bias(), config.nonLinearity());
        }
        return Activations.byName(config.nonLinearity()).apply(d.forward(z));
    }

    private Tensor scale(Tensor up) {
        Tensor s = parameter("scaling");
        if (s != null) return Elementwise.mul(up, s);
        double v = config.scaling().value();
        return v == 1.0 ? up : Elementwise.scale(up, v);
    }
}
