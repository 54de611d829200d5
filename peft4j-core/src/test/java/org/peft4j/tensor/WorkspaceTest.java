package org.peft4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.ops.Activations;
import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Linear;
import org.peft4j.ops.Reductions;

class WorkspaceTest {
    private static final int N = 1000;

    @Test
    void repeatedShapesGetTheSameArraysBackZeroed() {
        Workspace ws = new Workspace();
        float[] first;
        try (Workspace.Scope s = ws.open()) {
            first = Workspace.floats(N);
            first[3] = 5f;
        }
        assertEquals(4L * N, ws.pooledBytes());
        try (Workspace.Scope s = ws.open()) {
            float[] again = Workspace.floats(N);
            assertSame(first, again);
            assertEquals(0f, again[3]);
        }
    }

    @Test
    void outsideAScopeArraysAreFresh() {
        assertNotSame(Workspace.floats(N), Workspace.floats(N));
        assertEquals(DType.F64, Workspace.zeros(DType.F64, 2, 3).dtype());
    }

    @Test
    void aResultUsedAfterItsScopeReadsNaN() {
        // The test JVMs run with -Dpeft4j.workspace.poison=true: a leak is loud, not another step's values.
        Workspace ws = new Workspace();
        Tensor leaked;
        try (Workspace.Scope s = ws.open()) {
            leaked = Elementwise.scale(Tensor.ones(N), 2.0);
            assertEquals(2.0, leaked.get(7));
        }
        assertTrue(Double.isNaN(leaked.get(7)));
    }

    @Test
    void newShapesLetTheKeptArraysGoAtOnce() {
        Workspace ws = new Workspace();
        try (Workspace.Scope s = ws.open()) {
            Workspace.floats(N);
            Workspace.floats(2 * N);
        }
        assertEquals(4L * 3 * N, ws.pooledBytes());
        try (Workspace.Scope s = ws.open()) {
            Workspace.floats(2 * N);
            Workspace.floats(2 * N); // more of a kept length: allocated, the rest stays kept
            assertEquals(4L * N, ws.pooledBytes());
            Workspace.floats(N + 1); // a length never kept: a batch of other shapes, the rest goes now
            assertEquals(0, ws.pooledBytes());
        }
        assertEquals(4L * (5 * N + 1), ws.pooledBytes(), "what the scope used is kept for the next one");
    }

    @Test
    void changingShapesAskForACollectionOnceTwiceABatchHasBeenLetGo() {
        Workspace ws = new Workspace();
        for (int length = N; length < N + 3; length++) {
            try (Workspace.Scope s = ws.open()) {
                Workspace.floats(length);
            }
            assertEquals(0, ws.collectionsRequested(), "let go so far: " + (length - N) + " batches");
        }
        try (Workspace.Scope s = ws.open()) {
            Workspace.floats(N + 3); // the third batch let go: more than twice this one
        }
        assertEquals(1, ws.collectionsRequested());
        for (int i = 0; i < 5; i++) {
            try (Workspace.Scope s = ws.open()) {
                Workspace.floats(N + 3); // repeated shapes let nothing go
            }
        }
        assertEquals(1, ws.collectionsRequested());
    }

    @Test
    void aNestedScopeLeavesTheOuterOneInCharge() {
        Workspace outer = new Workspace(), inner = new Workspace();
        try (Workspace.Scope s = outer.open()) {
            try (Workspace.Scope t = inner.open()) {
                Workspace.floats(N);
            }
        }
        assertEquals(0, inner.pooledBytes());
        assertEquals(4L * N, outer.pooledBytes());
    }

    @Test
    void backwardRecyclesItsOwnGradientsAndComputesTheSame() {
        Tensor w = randn(64, 32, 1).requiresGrad(true), x = randn(N, 32, 2);
        float[] expected = chainGradient(w, x);
        Workspace ws = new Workspace();
        try (Workspace.Scope s = ws.open()) {
            chainForward(w, x);
        }
        long forwardOnly = ws.pooledBytes();
        float[] got = null;
        for (int i = 0; i < 2; i++) {
            try (Workspace.Scope s = ws.open()) {
                got = chainGradient(w, x);
            }
        }
        assertArrayEquals(expected, got);
        // Backward's gradients of the [N, 64] chain would add eight arrays of N·64 floats; recycled, two
        // at a time are alive, and the linear layer's dx is not asked for.
        long activation = 4L * N * 64;
        long pooled = ws.pooledBytes();
        assertTrue(pooled > forwardOnly && pooled <= forwardOnly + 3 * activation,
                "pooled " + pooled + " bytes after backward, " + forwardOnly + " after forward only");
    }

    private static Tensor chainForward(Tensor w, Tensor x) {
        Tensor h = Linear.linear(x, w, null);
        for (int i = 0; i < 6; i++) h = i % 2 == 0 ? Elementwise.scale(h, 0.9) : Activations.byName("gelu").apply(h);
        return Reductions.sum(h);
    }

    private static float[] chainGradient(Tensor w, Tensor x) {
        w.zeroGrad();
        chainForward(w, x).backward();
        return w.grad().toFloatArray();
    }

    private static Tensor randn(int rows, int cols, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() - 0.5);
        return Tensor.of(v, rows, cols);
    }
}
