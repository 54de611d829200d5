package org.peft4j.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * A node of the model tree. Parameters and children are registered under the same names Hugging Face
 * uses, so {@link #namedParameters()} yields {@code encoder.layer.0.attention.self.query.weight} and
 * adapters can target modules exactly as PEFT and AdapterHub do. Children are looked up by name when
 * used, so an adapter can replace a child (a {@code Linear} by a {@code LoraLinear}) in place.
 */
public abstract class Module {
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training;

    /** Registers (or replaces) a parameter; a null tensor removes it (a layer without bias). */
    public Tensor registerParameter(String name, Tensor tensor) {
        if (tensor == null) parameters.remove(name);
        else parameters.put(name, tensor);
        return tensor;
    }

    /** Registers (or replaces) a child module. */
    public <M extends Module> M registerModule(String name, M module) {
        children.put(name, module);
        return module;
    }

    /** This module's own parameter, or null. */
    public Tensor parameter(String name) { return parameters.get(name); }

    /** A direct child, or an error naming what exists. */
    @SuppressWarnings("unchecked")
    public <M extends Module> M child(String name) {
        Module m = children.get(name);
        if (m == null) throw new IllegalArgumentException(getClass().getSimpleName() + " has no child '" + name
                + "' (children: " + children.keySet() + ")");
        return (M) m;
    }

    public boolean hasChild(String name) { return children.containsKey(name); }

    /** Removes a child (and with it every parameter below it). */
    public void removeChild(String name) { children.remove(name); }

    /** Direct children in registration order. */
    public Map<String, Module> children() { return java.util.Collections.unmodifiableMap(children); }

    /** Own parameters in registration order. */
    public Map<String, Tensor> ownParameters() { return java.util.Collections.unmodifiableMap(parameters); }

    /** The module at a dotted path below this one ("" is this module). */
    public Module module(String path) {
        Module m = this;
        if (path.isEmpty()) return m;
        for (String part : path.split("\\.")) m = m.child(part);
        return m;
    }

    /** Replaces the module at a dotted path; returns the old one. */
    public Module replaceModule(String path, Module replacement) {
        int dot = path.lastIndexOf('.');
        Module parent = dot < 0 ? this : module(path.substring(0, dot));
        String name = path.substring(dot + 1);
        Module old = parent.child(name);
        parent.children.put(name, replacement);
        return old;
    }

    /** Every parameter below this module under its dotted name, depth-first in registration order. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collectParameters("", out);
        return out;
    }

    private void collectParameters(String prefix, Map<String, Tensor> out) {
        parameters.forEach((n, t) -> out.put(prefix + n, t));
        children.forEach((n, m) -> m.collectParameters(prefix + n + ".", out));
    }

    /** Every module below this one (this one under "") by dotted path. */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String path, Map<String, Module> out) {
        out.put(path, this);
        children.forEach((n, m) -> m.collectModules(path.isEmpty() ? n : path + "." + n, out));
    }

    /** Parameters that currently require a gradient. */
    public List<Tensor> trainableParameters() {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : namedParameters().values()) if (t.requiresGrad()) out.add(t);
        return out;
    }

    /** Freezes (false) or unfreezes (true) every parameter below this module. */
    public void requiresGrad(boolean value) {
        for (Tensor t : namedParameters().values()) t.requiresGrad(value);
    }

    /** Clears every accumulated gradient below this module. */
    public void zeroGrad() {
        for (Tensor t : namedParameters().values()) t.zeroGrad();
    }

    public boolean isTraining() { return training; }

    /** Switches dropout and other train-only behaviour on or off for the whole subtree. */
    public void train(boolean value) {
        training = value;
        for (Module m : children.values()) m.train(value);
    }
}
