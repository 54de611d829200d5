package org.peft4j.optim;

import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * What AdamW and SGD share: the groups, the step counter and schedule, lazily created per-parameter
 * state (named slot tensors plus an update count), and its export and import. Subclasses supply the
 * update rule for one parameter.
 */
abstract class AbstractOptimizer implements Optimizer {
    /** Elements per task when a parameter update is split over the compute pool. */
    static final int GRAIN = 1 << 15;
    static final String STEP_SLOT = "step";

    /** One parameter's state: how many updates it has received and its slot tensors. */
    static final class ParamState {
        long steps;
        final Tensor[] slots;

        ParamState(long steps, Tensor[] slots) {
            this.steps = steps;
            this.slots = slots;
        }
    }

    private final List<ParamGroup> groups;
    private final Map<String, Tensor> paramsByName = new LinkedHashMap<>();
    private final List<String> slotNames;
    private Map<String, ParamState> state = new HashMap<>();
    private LrSchedule schedule = LrSchedule.constant();
    private long stepCount;

    /** {@code slotNames}: the per-parameter state tensors the update rule keeps (same shape as the parameter). */
    AbstractOptimizer(List<ParamGroup> groups, List<String> slotNames) {
        if (groups.isEmpty()) throw new IllegalArgumentException("an optimizer needs at least one parameter group");
        this.groups = List.copyOf(groups);
        this.slotNames = List.copyOf(slotNames);
        Map<Tensor, String> seen = new IdentityHashMap<>();
        for (ParamGroup g : this.groups) {
            for (Map.Entry<String, Tensor> e : g.params().entrySet()) {
                if (paramsByName.put(e.getKey(), e.getValue()) != null) {
                    throw new IllegalArgumentException("parameter name '" + e.getKey() + "' appears in more than one group");
                }
                String other = seen.put(e.getValue(), e.getKey());
                if (other != null) {
                    throw new IllegalArgumentException("parameters '" + other + "' and '" + e.getKey()
                            + "' are the same tensor; each parameter may be optimized once");
                }
            }
        }
    }

    /**
     * Updates {@code param} in place from {@code grad} (same shape, F32 or F64). {@code state.steps} has
     * already been incremented, so it is 1 on the parameter's first update.
     */
    abstract void update(Tensor param, Tensor grad, ParamState state, double lr, double weightDecay);

    @Override
    public final void step() {
        double multiplier = schedule.multiplier(stepCount);
        if (!(multiplier >= 0) || Double.isInfinite(multiplier)) {
            throw new IllegalStateException("learning-rate schedule gave multiplier " + multiplier + " at step " + stepCount);
        }
        for (ParamGroup group : groups) {
            double lr = group.lr() * multiplier;
            for (Map.Entry<String, Tensor> e : group.params().entrySet()) {
                Tensor p = e.getValue(), g = p.grad();
                if (g == null) continue;
                if (!Arrays.equals(g.shape(), p.shape())) {
                    throw new IllegalStateException("parameter '" + e.getKey() + "' of shape " + Arrays.toString(p.shape())
                            + " has a gradient of shape " + Arrays.toString(g.shape()));
                }
                ParamState s = state.computeIfAbsent(e.getKey(), k -> newState(p));
                s.steps++;
                update(p, g, s, lr, group.weightDecay());
            }
        }
        stepCount++;
    }

    private ParamState newState(Tensor param) {
        Tensor[] slots = new Tensor[slotNames.size()];
        for (int i = 0; i < slots.length; i++) slots[i] = Tensor.zeros(param.computeType(), param.shape());
        return new ParamState(0, slots);
    }

    @Override
    public void zeroGrad() {
        for (Tensor p : paramsByName.values()) p.zeroGrad();
    }

    @Override
    public List<ParamGroup> groups() { return groups; }

    @Override
    public long stepCount() { return stepCount; }

    @Override
    public LrSchedule schedule() { return schedule; }

    @Override
    public void setSchedule(LrSchedule schedule) {
        if (schedule == null) throw new IllegalArgumentException("schedule must not be null");
        this.schedule = schedule;
    }

    @Override
    public OptimizerState exportState() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : paramsByName.keySet()) {
            ParamState s = state.get(name);
            if (s == null) continue;
            for (int i = 0; i < slotNames.size(); i++) {
                out.put(name + "." + slotNames.get(i), s.slots[i].detachedCopy(s.slots[i].dtype()));
            }
            out.put(name + "." + STEP_SLOT, Tensor.of(new long[] {s.steps}));
        }
        return new OptimizerState(stepCount, out);
    }

    @Override
    public void importState(OptimizerState imported) {
        Map<String, Tensor> tensors = imported.tensors();
        Map<String, ParamState> fresh = new HashMap<>();
        Set<String> used = new HashSet<>();
        for (Map.Entry<String, Tensor> p : paramsByName.entrySet()) {
            String name = p.getKey();
            Tensor param = p.getValue();
            String stepKey = name + "." + STEP_SLOT;
            boolean any = tensors.containsKey(stepKey);
            for (String slot : slotNames) any |= tensors.containsKey(name + "." + slot);
            if (!any) continue;
            Tensor steps = require(tensors, stepKey, name);
            if (steps.numel() != 1 || steps.item() < 0 || steps.item() != Math.rint(steps.item())) {
                throw new IllegalArgumentException("optimizer state '" + stepKey + "' must be one non-negative integer, got "
                        + steps);
            }
            used.add(stepKey);
            Tensor[] slots = new Tensor[slotNames.size()];
            for (int i = 0; i < slots.length; i++) {
                String key = name + "." + slotNames.get(i);
                Tensor src = require(tensors, key, name);
                if (!Arrays.equals(src.shape(), param.shape()) || !src.dtype().isFloating()) {
                    throw new IllegalArgumentException("optimizer state '" + key + "' is " + src.dtype()
                            + Arrays.toString(src.shape()) + " but parameter '" + name + "' needs a floating tensor of shape "
                            + Arrays.toString(param.shape()));
                }
                slots[i] = Tensor.zeros(param.computeType(), param.shape()).copyFrom(src);
                used.add(key);
            }
            fresh.put(name, new ParamState((long) steps.item(), slots));
        }
        for (String key : tensors.keySet()) {
            if (!used.contains(key)) {
                throw new IllegalArgumentException("optimizer state '" + key + "' matches no parameter and slot of this "
                        + getClass().getSimpleName() + " (slots " + slotNames + " and " + STEP_SLOT + ")");
            }
        }
        state = fresh;
        stepCount = imported.step();
    }

    private static Tensor require(Map<String, Tensor> tensors, String key, String param) {
        Tensor t = tensors.get(key);
        if (t == null) throw new IllegalArgumentException("optimizer state for parameter '" + param + "' lacks '" + key + "'");
        return t;
    }

    /** True when param and grad are contiguous F32 heap tensors, so the float[] path applies. */
    static boolean floatPath(Tensor param, Tensor grad) {
        return param.dtype() == DType.F32 && param.heapFloats() != null && grad.heapFloats() != null;
    }
}
