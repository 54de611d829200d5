package org.peft4j.tensor;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
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

    /** By length: the arrays earlier scopes used, for this one to take again. */
    private final Map<Integer, ArrayDeque<float[]>> kept = new HashMap<>();
    /** The lengths kept when this scope opened. */
    private final Set<Integer> keptLengths = new HashSet<>();
    /** By length: arrays this scope has used and handed back (backward's consumed gradients). */
    private final Map<Integer, ArrayDeque<float[]>> recycled = new HashMap<>();
    /** Arrays handed out in the open scope and not yet recycled, with the order they were handed out in. */
    private final Map<float[], Long> handedOut = new IdentityHashMap<>();
    /** Every array handed out in the open scope, once each even when recycled and handed out again. */
    private final Set<float[]> usedThisScope = Collections.newSetFromMap(new IdentityHashMap<>());
    private long handouts;
    /** Bytes of kept arrays let go since the last collection this workspace asked for, and how many it asked for. */
    private long letGo, collections;
    private boolean open;

    /** A zeroed float[n] from the current thread's open workspace, or a new array when none is open. */
    public static float[] floats(int n) {
        Workspace ws = CURRENT.get();
        return ws == null ? new float[n] : ws.take(n);
    }

    /** An F32 result tensor of this shape from the current workspace; other dtypes allocate normally. */
    public static Tensor zeros(DType dtype, int... shape) {
        if (dtype != DType.F32) return Tensor.zeros(dtype, shape);
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
        push(ws.recycled, arr);
    }

    /**
     * Makes this workspace the current thread's until the returned scope closes; closing keeps the
     * arrays the scope used for the next one. A scope may need more arrays of a kept length than are
     * kept (a training step after an inference pass). When it asks for a length that was not kept,
     * its batch has other shapes than the last (dynamic padding gives batches their own lengths): the
     * kept arrays left are let go at once, so memory never holds two shapes' worth. Scopes do not
     * nest: inside an open one, this returns a scope that does nothing.
     */
    public Scope open() {
        if (CURRENT.get() != null) return () -> {};
        if (open) throw new IllegalStateException("this workspace is open on another thread");
        open = true;
        keptLengths.clear();
        keptLengths.addAll(kept.keySet());
        CURRENT.set(this);
        return this::close;
    }

    private float[] take(int n) {
        float[] arr = poll(recycled, n);
        if (arr == null) arr = poll(kept, n);
        if (arr == null) {
            if (!keptLengths.contains(n) && !kept.isEmpty()) letGoOfKept(); // other shapes than the scope before
            arr = new float[n];
        } else {
            Arrays.fill(arr, 0f);
        }
        handedOut.put(arr, handouts++);
        usedThisScope.add(arr);
        return arr;
    }

    /**
     * Drops the kept arrays. They have been alive across young collections, so they die in the old
     * generation, and so do the arrays of every batch of new shapes after them. A collector with a
     * small young generation (the launcher's SerialGC) grows the old generation rather than collect it
     * while the heap ceiling allows, up to gigabytes over a run of changing shapes; once the arrays let
     * go add up to twice what a batch keeps, a full collection returns them instead (~30 ms for
     * MiniLM, whose live data is then ~160 MB).
     */
    private void letGoOfKept() {
        long batch = bytes(kept) + bytes(usedThisScope);
        letGo += bytes(kept);
        kept.clear();
        if (letGo > 2 * batch) {
            letGo = 0;
            collections++;
            System.gc();
        }
    }

    /** How many full collections this workspace has asked for. */
    long collectionsRequested() { return collections; }

    /** Takes an array of length n from the pool, or null; lengths with none left leave the map. */
    private static float[] poll(Map<Integer, ArrayDeque<float[]>> pool, int n) {
        ArrayDeque<float[]> list = pool.get(n);
        if (list == null) return null;
        float[] arr = list.poll();
        if (list.isEmpty()) pool.remove(n);
        return arr;
    }

    private static void push(Map<Integer, ArrayDeque<float[]>> pool, float[] arr) {
        if (POISON) Arrays.fill(arr, Float.NaN);
        pool.computeIfAbsent(arr.length, k -> new ArrayDeque<>()).push(arr);
    }

    private void close() {
        CURRENT.remove();
        open = false;
        kept.clear(); // arrays this scope never took are let go; the ones it took are kept
        recycled.clear();
        for (float[] arr : usedThisScope) push(kept, arr);
        usedThisScope.clear();
        handedOut.clear();
    }

    /** Bytes held for reuse by the next scope. */
    public long pooledBytes() { return bytes(kept); }

    private static long bytes(Map<Integer, ArrayDeque<float[]>> pool) {
        long bytes = 0;
        for (ArrayDeque<float[]> list : pool.values()) for (float[] a : list) bytes += 4L * a.length;
        return bytes;
    }

    private static long bytes(Set<float[]> arrays) {
        long bytes = 0;
        for (float[] a : arrays) bytes += 4L * a.length;
        return bytes;
    }

    /** Ends a workspace scope. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
