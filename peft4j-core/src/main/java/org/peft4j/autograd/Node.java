package org.peft4j.autograd;

import org.peft4j.tensor.Tensor;

/**
 * One recorded operation on the tape: where its inputs came from and how to turn the gradient of its
 * output into gradients of those inputs. A node holds no input tensor that an op made: it points to
 * the node that made it, so an activation stays in memory only while a backward function needs its
 * values (a frozen linear layer's input, for instance, is not kept at all).
 */
public final class Node {
    /** Computes input gradients from the output gradient; entry i may be null when input i needs none. */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor gradOutput);
    }

    final String op;
    /** Per input: the node that made it, when it was made by a recorded op. */
    final Node[] producers;
    /** Per input: the trainable leaf it is (a parameter), when it is one. */
    final Tensor[] leaves;
    /** Per input: its shape, which its gradient must have; null for inputs that need no gradient. */
    final int[][] shapes;
    final Backward backward;

    Node(String op, Tensor[] inputs, Backward backward) {
        this.op = op;
        this.producers = new Node[inputs.length];
        this.leaves = new Tensor[inputs.length];
        this.shapes = new int[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            Tensor in = inputs[i];
            if (in == null || !in.requiresGrad()) continue;
            if (in.isLeaf()) {
                leaves[i] = in;
            } else {
                producers[i] = in.gradFn();
            }
            shapes[i] = in.shape();
        }
        this.backward = backward;
    }

    public String op() { return op; }

    /** Input i's place in the graph: its producer node, its trainable leaf tensor, or null when it needs no gradient. */
    Object input(int i) { return producers[i] != null ? producers[i] : leaves[i] != null && leaves[i].requiresGrad() ? leaves[i] : null; }

    int inputCount() { return producers.length; }

    @Override
    public String toString() { return "Node(" + op + ")"; }
}
