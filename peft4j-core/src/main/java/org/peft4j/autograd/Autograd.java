package org.peft4j.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Define-by-run reverse mode. An op records a {@link Node} only when recording is enabled and at
 * least one input requires a gradient, so work on frozen tensors leaves no trace and backward never
 * descends below the lowest trainable tensor.
 */
public final class Autograd {
    private Autograd() {}

    /** True when an op over these inputs must record itself. */
    public static boolean needsGrad(Tensor... inputs) {
        if (!GradMode.isEnabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    /**
     * Attaches a backward function to {@code output} when any input requires a gradient; returns
     * {@code output}. The backward receives the output's gradient and returns one entry per input.
     */
    public static Tensor record(Tensor output, String op, Node.Backward backward, Tensor... inputs) {
        if (needsGrad(inputs)) output.attachGradFn(new Node(op, inputs.clone(), backward));
        return output;
    }

    /** Backpropagates from a scalar (gradient 1) into every leaf that requires a gradient. */
    public static void backward(Tensor root) {
        if (root.numel() != 1) {
            throw new IllegalArgumentException("backward() without a gradient needs a scalar, got shape "
                    + java.util.Arrays.toString(root.shape()));
        }
        backward(root, Tensor.full(root.dtype() == DType.F64 ? DType.F64 : DType.F32, 1.0, root.shape()));
    }

    /**
     * Backpropagates {@code gradRoot} from {@code root}. Leaf gradients accumulate until zeroed. The
     * graph is walked over nodes, not tensors, so the activations nothing needs are already gone.
     */
    public static void backward(Tensor root, Tensor gradRoot) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward() on a tensor that does not require a gradient: "
                    + "no trainable tensor contributed to it");
        }
        Object start = root.isLeaf() ? root : root.gradFn();
        List<Object> order = topologicalOrder(start);
        Map<Object, Tensor> grads = new IdentityHashMap<>();
        GradStorages held = new GradStorages();
        long mark = Workspace.mark(); // gradients made from here on are backward's own to recycle
        grads.put(start, gradRoot);
        held.hold(gradRoot);
        held.hold(gradRoot); // the caller's tensor: never summed into
        try (var scope = GradMode.noGrad()) {
            for (int k = order.size() - 1; k >= 0; k--) {
                Object v = order.get(k);
                Tensor g = grads.remove(v);
                if (g == null) continue;
                held.release(g);
                if (v instanceof Tensor leaf) {
                    leaf.accumulateGrad(g); // copies: a parameter's gradient is never a workspace array
                    held.recycleIfFree(g, mark);
                    continue;
                }
                Node node = (Node) v;
                Tensor[] inputGrads = node.backward.apply(g);
                if (!GradStorages.sharedWith(g, inputGrads, -1)) held.recycleIfFree(g, mark);
                for (int i = 0; i < node.inputCount(); i++) {
                    Object in = node.input(i);
                    if (in == null || inputGrads[i] == null) continue;
                    Tensor gi = inputGrads[i];
                    if (!java.util.Arrays.equals(gi.shape(), node.shapes[i])) {
                        throw new IllegalStateException("backward of " + node.op + " returned gradient of shape "
                                + java.util.Arrays.toString(gi.shape()) + " for input " + i + " of shape "
                                + java.util.Arrays.toString(node.shapes[i]));
                    }
                    Tensor prev = grads.get(in);
                    if (prev == null) {
                        grads.put(in, gi);
                        held.hold(gi);
                    } else if (held.ownsAlone(prev) && !GradStorages.sameStorage(prev, gi) && summableInPlace(prev, gi)) {
                        Elementwise.addInPlace(prev, gi); // a tensor fan-out: sum into the only holder's buffer
                        if (!GradStorages.sharedWith(gi, inputGrads, i)) held.recycleIfFree(gi, mark);
                    } else {
                        held.release(prev);
                        Tensor sum = Elementwise.add(prev, gi);
                        grads.put(in, sum);
                        held.hold(sum);
                        if (!GradStorages.sharedWith(prev, inputGrads, -1)) held.recycleIfFree(prev, mark);
                        if (!GradStorages.sharedWith(gi, inputGrads, i)) held.recycleIfFree(gi, mark);
                    }
                }
            }
        }
    }

    /** Whether {@code prev + gi} can be written into prev: a dense buffer of the type the sum would have. */
    private static boolean summableInPlace(Tensor prev, Tensor gi) {
        if (prev.heapFloats() != null) return gi.dtype() != DType.F64;
        return prev.heapDoubles() != null;
    }

    /**
     * How many pending gradients share each storage array. A gradient whose storage no other pending
     * gradient (or the caller's root gradient) shares may be summed into in place: backward formulas
     * pass a gradient on unchanged (add, reshape, contiguous) or return one tensor for two inputs, so
     * buffers are shared often, and only the count tells when one is free.
     */
    private static final class GradStorages {
        private final Map<Object, Integer> counts = new IdentityHashMap<>();

        void hold(Tensor t) { counts.merge(storage(t), 1, Integer::sum); }

        void release(Tensor t) { counts.computeIfPresent(storage(t), (key, n) -> n == 1 ? null : n - 1); }

        boolean ownsAlone(Tensor t) { return counts.getOrDefault(storage(t), 0) == 1; }

        static boolean sameStorage(Tensor a, Tensor b) { return storage(a) == storage(b); }

        /** Whether an entry of {@code others} other than entry {@code skip} shares t's storage. */
        static boolean sharedWith(Tensor t, Tensor[] others, int skip) {
            for (int j = 0; j < others.length; j++) if (j != skip && others[j] != null && sameStorage(t, others[j])) return true;
            return false;
        }

        /** Hands t's buffer back to the workspace when no pending gradient holds it and backward made it. */
        void recycleIfFree(Tensor t, long mark) {
            if (!counts.containsKey(storage(t))) Workspace.recycle(t, mark);
        }

        private static Object storage(Tensor t) { return t.segment().heapBase().orElse(t.segment()); }
    }

    /** Nodes and trainable leaves reachable from start, inputs before what was made from them. */
    private static List<Object> topologicalOrder(Object start) {
        List<Object> order = new ArrayList<>();
        Map<Object, Boolean> visited = new IdentityHashMap<>();
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {start, 0});
        visited.put(start, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            int next = (Integer) frame[1];
            if (frame[0] instanceof Node node && next < node.inputCount()) {
                frame[1] = next + 1;
                Object in = node.input(next);
                if (in != null && visited.put(in, Boolean.TRUE) == null) stack.push(new Object[] {in, 0});
            } else {
                stack.pop();
                order.add(frame[0]);
            }
        }
        return order;
    }
}
