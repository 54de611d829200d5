package org.peft4j.adapters.bottleneck;

import java.util.List;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.LayerNorm;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * What flows through a composition at one {@link BottleneckSite} (AdapterHub's {@code BottleneckState}).
 *
 * @param hidden   the current hidden states: the sublayer output h at first, then each adapter's output
 * @param input    the sublayer's input x (its residual stream)
 * @param residual the tensor the next adapter adds as its own residual (set by {@link BottleneckAdapter#preForward})
 * @param ln       the sublayer's pretrained LayerNorm, or null for pre-LN decoders
 * @param up       the last adapter's scaled bottleneck output before dropout, gating and residual (what AdapterFusion attends over)
 * @param last     the name of the last adapter that ran, whose settings finish the sublayer; null before any ran
 * @param pass     the forward pass (training flag and dropout generator)
 */
public record BottleneckState(Tensor hidden, Tensor input, Tensor residual, LayerNorm ln, Tensor up, String last, ForwardState pass) {

    /** The state a site starts from: hidden = h, residual = x. */
    public static BottleneckState start(Tensor h, Tensor x, LayerNorm ln, ForwardState pass) {
        return new BottleneckState(h, x, x, ln, null, null, pass);
    }

    public BottleneckState withHidden(Tensor t) { return new BottleneckState(t, input, residual, ln, up, last, pass); }

    public BottleneckState withInput(Tensor t) { return new BottleneckState(hidden, t, residual, ln, up, last, pass); }

    public BottleneckState withResidual(Tensor t) { return new BottleneckState(hidden, input, t, ln, up, last, pass); }

    /** The state after adapter {@code name} produced {@code out} (its output) and {@code upOut} (its bottleneck output). */
    public BottleneckState after(String name, Tensor out, Tensor upOut) { return new BottleneckState(out, input, residual, ln, upOut, name, pass); }

    public BottleneckState withLast(String name) { return new BottleneckState(hidden, input, residual, ln, up, name, pass); }

    /** The batch rows {@code start .. start+count-1} of every tensor (views). */
    public BottleneckState rows(int start, int count) {
        return new BottleneckState(hidden.narrow(0, start, count), input.narrow(0, start, count), residual.narrow(0, start, count),
                ln, up == null ? null : up.narrow(0, start, count), last, pass);
    }

    /** Row blocks put back together along the batch (the last block's {@code last}). */
    public static BottleneckState concatRows(List<BottleneckState> parts) {
        if (parts.size() == 1) return parts.get(0);
        BottleneckState first = parts.getFirst(), lastPart = parts.getLast();
        boolean ups = parts.stream().allMatch(p -> p.up != null);
        return new BottleneckState(
                Shapes.concat(0, parts.stream().map(BottleneckState::hidden).toList()),
                Shapes.concat(0, parts.stream().map(BottleneckState::input).toList()),
                Shapes.concat(0, parts.stream().map(BottleneckState::residual).toList()),
                first.ln,
                ups ? Shapes.concat(0, parts.stream().map(BottleneckState::up).toList()) : null,
                lastPart.last,
                first.pass);
    }
}
