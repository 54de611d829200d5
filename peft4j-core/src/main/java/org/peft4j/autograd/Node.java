package org.peft4j.autograd;

import org.peft4j.tensor.Tensor;

/**
 * One recorded operation on the tape: the inputs it read and how to turn the gradient of its
 * output into gradients of those inputs.
 */
public final class Node {
    /** Computes input gradients from the output gradient; entry i may be null when input i needs none. */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor gradOutput);
    }

    final String op;
    final Tensor[] inputs;
    final Backward backward;

    Node(String op, Tensor[] inputs, Backward backward) {
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
    }

    public String op() { return op; }

    @Override
    public String toString() { return "Node(" + op + ")"; }
}
