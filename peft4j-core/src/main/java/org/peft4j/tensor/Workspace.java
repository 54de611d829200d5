package org.peft4j.tensor;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Recycles the float arrays of op results from one training step (or inference batch) to the next.
 *
 * <p>Why: a step allocates hundreds of megabytes of activations and gradients that all die by its
 * end. Left to the garbage collector, every young collection copies the activations still alive, and a
 * throughput collector answers by growing the heap to several times the live data. Handing the same
 * arrays out again keeps them in the old generation, never copied, and the heap at the size of one
 * step's working set.
 *
 * <p>Who may open a scope: code that knows no op result made inside escapes it (a trainer step, an
 * evaluation batch), and copies out what it keeps. Only ops' results come from the workspace (see
 * {@link #floats(int)}); {@link Tensor#zeros} and everything else allocate normally, so optimizer
 * state, parameter gradients and caches are never recycled. Inside backward, the autograd engine hands
 * back each gradient it has consumed ({@link #recycle}), so backward reuses its own buffers.
 *
 * <p>With {@code -Dpeft4j.workspace.poison=true} (the test suites set it) every recycled array is
 * filled with NaN, so a result used after its scope fails loudly instead of reading another step's
 * values.
 */
public final class Workspace {
    private static final ThreadLocal<Workspace> CURRENT = new ThreadLocal<>();
    private static final boolean POISON = Boolean.getBoolean("peft4j.workspace.poison");

    /** Recycled arrays by length. */
    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    /** Arrays handed out in the open scope and not yet recycled, with the order they were handed out in. */
    private final Map<float[], Long> handedOut = new IdentityHashMap<>();
    /** Every array handed out in the open scope, once each even when recycled and handed out again. */
    private final Set<float[]> usedThisScope = Collections.newSetFromMap(new IdentityHashMap<>());
    private long handouts;
    /** Bytes this scope took from arrays kept from earlier scopes, and bytes it had to allocate. */
    private long reusedBytes, missedBytes;
    private boolean pooledAtOpen;
    private boolean open;

    /** A zeroed float[n] from the current thread's open workspace, or a new array when none is open. */
    public static float[] floats(int n) {
        Workspace ws = CURRENT.get();
        return ws == null ? new float[n] : ws.take(n);
    }

    /** An F32 result tensor of this shape from the current workspace; other dtypes allocate normally. */
    public static Tensor zeros(DType dtype, int... shape) {
        if (dtype != DType.F32 || CURRENT.get() == null) return Tensor.zeros(dtype, shape);
        return Tensor.of(floats(Math.toIntExact(Tensor.numel(shape))), shape);
    }

    /** A count that orders handouts: arrays handed out after a mark can be told from older ones. */
    public static long mark() {
        Workspace ws = CURRENT.get();
        return ws == null ? Long.MAX_VALUE : ws.handouts;
    }

    /**
     * Hands {@code t}'s array back for reuse within the open scope, when it came from this thread's
     * workspace after {@code mark}. The caller promises nothing reads or writes it any more.
     */
    public static void recycle(Tensor t, long mark) {
        Workspace ws = CURRENT.get();
        if (ws == null || !(t.segment().heapBase().orElse(null) instanceof float[] arr)) return;
        Long order = ws.handedOut.get(arr);
        if (order == null || order < mark) return;
        ws.handedOut.remove(arr);
        ws.giveBack(arr);
    }

    /**
     * Makes this workspace the current thread's until the returned scope closes. Closing recycles every
     * array handed out meanwhile for the next scope, when the shapes repeat: a scope whose requests
     * the kept arrays mostly did not serve (dynamic padding gives every batch its own length) lets its
     * arrays go to the garbage collector instead, so that nothing outlives its batch for nothing. Scopes
     * do not nest: inside an open one, this returns a scope that does nothing.
     */
    public Scope open() {
        if (CURRENT.get() != null) return () -> {};
        if (open) throw new IllegalStateException("this workspace is open on another thread");
        open = true;
        pooledAtOpen = !free.isEmpty();
        reusedBytes = missedBytes = 0;
        CURRENT.set(this);
        return this::close;
    }

    private float[] take(int n) {
        ArrayDeque<float[]> list = free.get(n);
        float[] arr = list == null ? null : list.poll();
        if (arr == null) {
            missedBytes += 4L * n;
            // The first request missing the kept arrays means this batch has other shapes: drop them now,
            // while this scope can still use the memory.
            if (usedThisScope.isEmpty()) free.clear();
            arr = new float[n];
        } else {
            if (!usedThisScope.contains(arr)) reusedBytes += 4L * n;
            Arrays.fill(arr, 0f);
        }
        handedOut.put(arr, handouts++);
        usedThisScope.add(arr);
        return arr;
    }

    private void giveBack(float[] arr) {
        if (POISON) Arrays.fill(arr, Float.NaN);
        free.computeIfAbsent(arr.length, k -> new ArrayDeque<>()).push(arr);
    }

    private void close() {
        CURRENT.remove();
        open = false;
        boolean shapesRepeat = !pooledAtOpen || reusedBytes >= missedBytes;
        free.clear(); // arrays the scope never took are dropped; the ones it took come back below
        if (shapesRepeat) {
            for (float[] arr : usedThisScope) giveBack(arr);
        } else if (POISON) {
            for (float[] arr : usedThisScope) Arrays.fill(arr, Float.NaN);
        }
        usedThisScope.clear();
        handedOut.clear();
    }

    /** Bytes held for reuse by the next scope. */
    public long pooledBytes() {
        long bytes = 0;
        for (ArrayDeque<float[]> list : free.values()) for (float[] a : list) bytes += 4L * a.length;
        return bytes;
    }

    /** Ends a workspace scope. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
