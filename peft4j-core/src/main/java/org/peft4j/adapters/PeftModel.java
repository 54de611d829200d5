package org.peft4j.adapters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.composition.BatchSplit;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.composition.Single;
import org.peft4j.models.CausalLm;
import org.peft4j.models.KvCache;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.bert.BertModel;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleDict;
import org.peft4j.ops.Shapes;
import org.peft4j.tensor.Tensor;

/**
 * A frozen base model with named adapters: add, activate, train, delete them, and run the model with
 * the active ones. Adapters change the base's module tree in place (linear layers become
 * {@link AdaptedLinear}s, sublayers gain {@link org.peft4j.models.AdapterSite}s); model-level parts
 * (prefixes, prompts, shared parameters) live in {@link #extras()}. Parameter names are the base's
 * Hugging Face names plus the adapters' (PEFT layout inside linear layers, AdapterHub layout at
 * sublayer sites).
 */
public final class PeftModel {
    private final Module base;
    private final ModelConfig config;
    private final AdapterContext context = new AdapterContext();
    private final ModuleDict extras = new ModuleDict();
    private final Map<String, AdapterEntry> adapters = new LinkedHashMap<>();
    private final Map<String, PrefixProvider> prefixes = new LinkedHashMap<>();
    private final Map<String, PromptProvider> prompts = new LinkedHashMap<>();
    private final Map<String, KvCache.PrefixGate> prefixGates = new LinkedHashMap<>();

    /** Wraps {@code base} and freezes every one of its parameters. */
    public PeftModel(Module base, ModelConfig config) {
        this.base = base;
        this.config = config;
        base.requiresGrad(false);
    }

    public Module base() { return base; }

    public ModelConfig config() { return config; }

    public AdapterContext context() { return context; }

    /** Model-level adapter modules: {@code prefix_tuning}, {@code prompt_encoder}, {@code shared_parameters}. */
    public ModuleDict extras() { return extras; }

    public ModelShape shape() { return ModelShape.of(config); }

    // ------------------------------------------------------------------ adapters

    /** Adds adapter {@code name} from a method specification ({@code lora[r=8]}, {@code prefix_tuning|par_bn}). */
    public AdapterEntry addAdapter(String name, String spec, long seed) {
        return addAdapter(name, MethodRegistry.parse(spec), seed);
    }

    public AdapterEntry addAdapter(String name, List<MethodConfig> configs, long seed) {
        if (name == null || name.isBlank() || name.contains(".") || name.contains(",")) {
            throw new IllegalArgumentException("adapter name '" + name + "' must be non-empty without '.' or ','");
        }
        if (adapters.containsKey(name)) throw new IllegalArgumentException("adapter '" + name + "' already exists");
        Set<Tensor> before = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        before.addAll(namedParameters().values());
        List<String> unfrozen = new ArrayList<>();
        long s = seed;
        for (MethodConfig c : configs) unfrozen.addAll(MethodRegistry.method(c.method()).install(this, name, c, s++));
        List<String> owned = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : namedParameters().entrySet()) {
            if (!before.contains(e.getValue()) || unfrozen.contains(e.getKey())) owned.add(e.getKey());
        }
        AdapterEntry entry = new AdapterEntry(name, configs, owned);
        adapters.put(name, entry);
        return entry;
    }

    public List<String> adapterNames() { return List.copyOf(adapters.keySet()); }

    public AdapterEntry adapter(String name) {
        AdapterEntry e = adapters.get(name);
        if (e == null) throw new IllegalArgumentException("no adapter '" + name + "'; adapters: " + adapters.keySet());
        return e;
    }

    /** The adapter's tensors by dotted name. */
    public Map<String, Tensor> adapterParameters(String name) {
        Map<String, Tensor> all = namedParameters();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String p : adapter(name).parameterNames()) out.put(p, all.get(p));
        return out;
    }

    /** Runs {@code composition} from now on (a name, or a block such as {@code Stack(a, b)}). */
    public void setActive(Composition composition) {
        for (String n : composition.adapterNames()) adapter(n);
        context.setActive(composition);
    }

    public void setActive(String composition) { setActive(Composition.parse(composition)); }

    /** No adapter runs: the base model's own output. */
    public void deactivate() { context.setActive(null); }

    /** Makes only the named adapters' tensors trainable (everything else frozen). */
    public void train(String... names) {
        for (Tensor t : namedParameters().values()) {
            if (t.isLeaf()) t.requiresGrad(false);
        }
        Map<String, Tensor> all = namedParameters();
        for (String n : names) for (String p : adapter(n).parameterNames()) all.get(p).requiresGrad(true);
    }

    /** Removes an adapter and every tensor it added. */
    public void deleteAdapter(String name) {
        AdapterEntry e = adapter(name);
        for (MethodConfig c : e.configs()) MethodRegistry.method(c.method()).uninstall(this, name);
        if (context.isActive(name)) context.setActive(null);
        for (Module m : base.namedModules().values()) {
            if (m instanceof AdaptedLinear al && al.adapters().containsKey(name)) al.remove(name);
            if (m instanceof org.peft4j.models.AdapterSite site && site.hasChild(name)) site.removeChild(name);
        }
        // adapters live one level below extras' containers (prefix_tuning.prefix_tunings.<name>, prompt_encoder.<name>)
        for (Map.Entry<String, Module> m : extras.namedModules().entrySet()) {
            if (!m.getKey().isEmpty() && m.getValue().hasChild(name)) m.getValue().removeChild(name);
        }
        prefixes.remove(name);
        prefixGates.remove(name);
        prompts.remove(name);
        adapters.remove(e.name());
        unwrapBareLinears();
    }

    /**
     * Puts the plain linear layer back wherever an adapted one has no adapter and no tensor of its own
     * left, so that tensor names ({@code base_layer}) never depend on adapters deleted before.
     */
    private void unwrapBareLinears() {
        for (Map.Entry<String, Module> m : base.namedModules().entrySet()) {
            if (!(m.getValue() instanceof AdaptedLinear al) || !al.adapters().isEmpty()) continue;
            if (!al.namedParameters().keySet().stream().allMatch(n -> n.startsWith("base_layer."))) continue;
            String path = m.getKey();
            base.replaceModule(path, al.base());
            // the layer's own tensors leave base_layer: keep the remaining adapters' records pointing at them
            String wrapped = path + ".base_layer.";
            adapters.replaceAll((n, entry) -> new AdapterEntry(n, entry.configs(), entry.parameterNames().stream()
                    .map(p -> p.startsWith(wrapped) ? path + "." + p.substring(wrapped.length()) : p).toList()));
        }
    }

    /** Every tensor: the base's and the adapters', by dotted name. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>(base.namedParameters());
        out.putAll(extras.namedParameters());
        return out;
    }

    /** Tensors that currently require a gradient. */
    public List<Tensor> trainableParameters() {
        return namedParameters().values().stream().filter(Tensor::requiresGrad).toList();
    }

    /**
     * Sets the values of the tensor at a dotted name: in place when its storage is writable, else (a
     * memory-mapped base tensor) by registering a heap copy in its place, keeping its trainable flag.
     */
    public void assign(String name, Tensor values) {
        Tensor target = namedParameters().get(name);
        if (target == null) throw new IllegalArgumentException("no tensor '" + name + "' in the model");
        if (!Arrays.equals(target.shape(), values.shape())) {
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(target.shape())
                    + " but the file gives " + Arrays.toString(values.shape()));
        }
        if (!target.segment().isReadOnly() && target.dtype() == org.peft4j.tensor.DType.F32) {
            target.copyFrom(values);
            return;
        }
        Tensor copy = values.detachedCopy(org.peft4j.tensor.DType.F32);
        copy.requiresGrad(target.requiresGrad());
        int dot = name.lastIndexOf('.');
        Module owner = ownerOf(name.substring(0, dot));
        owner.registerParameter(name.substring(dot + 1), copy);
    }

    private Module ownerOf(String path) {
        Map<String, Module> modules = base.namedModules();
        if (modules.containsKey(path)) return modules.get(path);
        Map<String, Module> extraModules = extras.namedModules();
        if (extraModules.containsKey(path)) return extraModules.get(path);
        throw new IllegalArgumentException("no module '" + path + "'");
    }

    /**
     * Folds every active adapter of every adapted linear layer into its weight and puts plain linear
     * layers back (PEFT's merge_and_unload); adapters that cannot be merged are an error.
     */
    public void mergeAndUnload() {
        for (Map.Entry<String, Module> e : base.namedModules().entrySet()) {
            if (!(e.getValue() instanceof AdaptedLinear al)) continue;
            Linear b = al.base();
            Tensor weight = b.weightOutIn().detachedCopy(org.peft4j.tensor.DType.F32);
            Tensor bias = b.bias() == null ? null : b.bias().detachedCopy(org.peft4j.tensor.DType.F32);
            for (String n : al.adapters().keySet()) {
                if (!context.isActive(n)) continue;
                weight = al.adapters().get(n).merge(weight, al);
                bias = al.adapters().get(n).mergeBias(bias, al);
            }
            Linear merged = b.fanInFanOut() ? new org.peft4j.nn.Conv1D(weight.transpose(0, 1).contiguous(), bias) : new Linear(weight, bias);
            base.replaceModule(e.getKey(), merged);
        }
        for (AdapterEntry entry : List.copyOf(adapters.values())) {
            boolean linearOnly = entry.parameterNames().stream().noneMatch(n -> namedParameters().containsKey(n));
            if (linearOnly) adapters.remove(entry.name());
        }
        context.setActive(null);
    }

    public void trainMode(boolean training) {
        base.train(training);
        extras.train(training);
    }

    // ------------------------------------------------------------------ hooks for methods

    /** The base model's linear layers (an adapted one by its base layer) under their original dotted paths. */
    public Map<String, Linear> linearLayers() {
        Map<String, Linear> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : base.namedModules().entrySet()) {
            String path = e.getKey();
            if (e.getValue() instanceof AdaptedLinear al) out.put(path, al.base());
            else if (e.getValue() instanceof Linear l && !path.endsWith(".base_layer") && !insideAdapter(path)) out.put(path, l);
        }
        return out;
    }

    private boolean insideAdapter(String path) {
        Module m = base;
        for (String part : path.split("\\.")) {
            if (m instanceof AdaptedLinear || m instanceof org.peft4j.models.AdapterSite) return true;
            if (!m.hasChild(part)) return false;
            m = m.child(part);
        }
        return false;
    }

    /** The linear layer at {@code path} wrapped as an {@link AdaptedLinear} (wrapping it on first use). */
    public AdaptedLinear adaptedLinear(String path) {
        Module m = base.module(path);
        if (m instanceof AdaptedLinear al) return al;
        if (!(m instanceof Linear l)) throw new IllegalArgumentException("'" + path + "' is not a linear layer");
        AdaptedLinear al = new AdaptedLinear(l, context, TargetModules.layerIndex(path));
        al.train(l.isTraining());
        base.replaceModule(path, al);
        // the layer's own tensors moved under base_layer: keep earlier adapters' records pointing at them
        String prefix = path + ".";
        adapters.replaceAll((n, entry) -> new AdapterEntry(n, entry.configs(), entry.parameterNames().stream()
                .map(p -> p.startsWith(prefix) && p.indexOf('.', prefix.length()) < 0 ? prefix + "base_layer." + p.substring(prefix.length()) : p)
                .toList()));
        return al;
    }

    /** The owner module and child name of the sublayer where bottleneck adapters of {@code location} sit. */
    public SiteRef siteRef(int layer, Location location) {
        return switch (config.architecture()) {
            case BERT -> new SiteRef(base.module("encoder.layer." + layer + (location == Location.ATTENTION ? ".attention.output" : ".output")),
                    "adapters", layer, location);
            case GPT2 -> new SiteRef(base.module("transformer.h." + layer),
                    location == Location.ATTENTION ? "attention_adapters" : "output_adapters", layer, location);
            case LLAMA -> new SiteRef(base.module("model.layers." + layer),
                    location == Location.ATTENTION ? "attention_adapters" : "output_adapters", layer, location);
        };
    }

    /** Where a sublayer's site sits: {@code owner.<childName>}. */
    public record SiteRef(Module owner, String childName, int layer, Location location) {}

    /** The site at a sublayer, created with {@code create} the first time. */
    @SuppressWarnings("unchecked")
    public <S extends org.peft4j.models.AdapterSite> S site(int layer, Location location, Supplier<S> create) {
        SiteRef ref = siteRef(layer, location);
        if (!ref.owner().hasChild(ref.childName())) ref.owner().registerModule(ref.childName(), create.get());
        return (S) ref.owner().child(ref.childName());
    }

    public void registerPrefix(String name, PrefixProvider p) { prefixes.put(name, p); }

    public void registerPrompt(String name, PromptProvider p) { prompts.put(name, p); }

    /** Gates the prefix of adapter {@code name} (registered with {@link #registerPrefix}) from each attention layer's input (UniPELT). */
    public void registerPrefixGate(String name, KvCache.PrefixGate gate) { prefixGates.put(name, gate); }

    // ------------------------------------------------------------------ forward

    /** An encoder's last hidden state [B, T, H] with the active adapters. */
    public Tensor encode(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, RandomGenerator rng) {
        if (!(base instanceof BertModel bert)) throw new IllegalStateException("encode() needs an encoder model");
        context.setForwardRng(rng);
        try {
            return bert.forward(inputIds, attentionMask, tokenTypeIds, prefixCache(inputIds.size(0)), rng);
        } finally {
            context.setForwardRng(null);
        }
    }

    /**
     * A decoder's logits [B, n + T, V] with the active adapters, n being the number of virtual tokens
     * that active prompts prepend (their positions come first).
     */
    public Tensor logits(Tensor inputIds, Tensor attentionMask, RandomGenerator rng) {
        if (!(base instanceof CausalLm lm)) throw new IllegalStateException("logits() needs a decoder model");
        context.setForwardRng(rng);
        try {
            return decoderLogits(lm, inputIds, attentionMask, rng);
        } finally {
            context.setForwardRng(null);
        }
    }

    private Tensor decoderLogits(CausalLm lm, Tensor inputIds, Tensor attentionMask, RandomGenerator rng) {
        int b = inputIds.size(0);
        Tensor embeds = lm.embed(inputIds);
        Tensor mask = attentionMask;
        List<Tensor> virtual = new ArrayList<>();
        for (Map.Entry<String, PromptProvider> e : prompts.entrySet()) if (context.isActive(e.getKey())) virtual.add(e.getValue().prompt(b));
        if (!virtual.isEmpty()) {
            virtual.add(embeds);
            embeds = Shapes.concat(1, virtual);
            int n = embeds.size(1) - inputIds.size(1);
            mask = Shapes.concat(1, Tensor.full(attentionMask.dtype(), 1, b, n), attentionMask);
        }
        return lm.forwardEmbeddings(embeds, mask, prefixCache(b), rng);
    }

    /** The number of virtual tokens active prompts prepend. */
    public int virtualTokens() {
        int n = 0;
        for (Map.Entry<String, PromptProvider> e : prompts.entrySet()) if (context.isActive(e.getKey())) n += e.getValue().prompt(1).size(1);
        return n;
    }

    /**
     * A cache holding the active adapters' prefixes (concatenated in activation order), or null. Layers
     * that AdapterDrop skips get no prefix; gated prefixes are rescaled per adapter by the layer itself.
     * In a mixed batch (per-row adapter names, or BatchSplit) each row attends only the prefixes of the
     * adapters it runs: the others' positions are masked out of its keys, as if they were not there.
     */
    KvCache prefixCache(int batch) {
        // AdapterDrop over every layer leaves no layer to take a prefix
        if (!context.layerActive(config.numLayers() - 1)) return null;
        List<String> names = new ArrayList<>();
        List<Tensor[][]> parts = new ArrayList<>();
        List<boolean[]> rows = new ArrayList<>();
        Boolean shift = null;
        for (Map.Entry<String, PrefixProvider> e : prefixes.entrySet()) {
            boolean[] used = prefixRows(e.getKey(), batch);
            if (used == null) continue;
            names.add(e.getKey());
            parts.add(e.getValue().prefix(batch, context.forwardRng()));
            rows.add(used);
            boolean s = e.getValue().shiftsPositions();
            if (shift != null && shift != s) throw new IllegalStateException("PEFT and AdapterHub prefixes cannot be active together");
            shift = s;
        }
        if (parts.isEmpty()) return null;
        Tensor rowMask = prefixRowMask(parts, rows, batch);
        if (rowMask != null && shift) {
            throw new IllegalStateException("PEFT prefix adapters " + names + " cannot serve a mixed batch: they shift the positions"
                    + " of every row; run each adapter's rows as a batch of their own");
        }
        int layers = parts.get(0)[0].length;
        Tensor[] keys = new Tensor[layers], values = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            if (!context.layerActive(l)) continue;
            List<Tensor> k = new ArrayList<>(), v = new ArrayList<>();
            for (Tensor[][] p : parts) {
                k.add(p[0][l]);
                v.add(p[1][l]);
            }
            keys[l] = k.size() == 1 ? k.get(0) : Shapes.concat(2, k);
            values[l] = v.size() == 1 ? v.get(0) : Shapes.concat(2, v);
        }
        return KvCache.ofPrefix(keys, values, shift, prefixGate(names, parts), rowMask);
    }

    /** The rows that run prefix adapter {@code name}: all, some (a mixed batch), or none (null). */
    private boolean[] prefixRows(String name, int batch) {
        boolean[] used = new boolean[batch];
        List<String> rowNames = context.rowAdapters();
        if (rowNames != null) {
            if (rowNames.size() != batch) throw new IllegalArgumentException(rowNames.size() + " row adapters for a batch of " + batch);
            for (int i = 0; i < batch; i++) used[i] = name.equals(rowNames.get(i));
        } else if (context.isActive(name)) {
            markRows(context.active(), name, 0, batch, used);
        }
        for (boolean u : used) if (u) return used;
        return null;
    }

    /** Marks rows [from, to) that composition {@code c} runs through adapter {@code name}; BatchSplit narrows the range. */
    private static void markRows(Composition c, String name, int from, int to, boolean[] used) {
        if (c instanceof Single s) {
            if (s.name().equals(name)) Arrays.fill(used, from, to, true);
        } else if (c instanceof BatchSplit split) {
            int start = from;
            for (int i = 0; i < split.children().size(); i++) {
                int end = Math.min(to, start + split.sizes().get(i));
                markRows(split.children().get(i), name, start, end, used);
                start = end;
            }
        } else {
            for (Composition child : c.children()) markRows(child, name, from, to, used);
        }
    }

    /** [B, P] I64: 1 where row b runs the adapter owning prefix position p; null when every row runs every prefix. */
    private static Tensor prefixRowMask(List<Tensor[][]> parts, List<boolean[]> rows, int batch) {
        boolean uniform = true;
        for (boolean[] r : rows) for (boolean u : r) uniform &= u;
        if (uniform) return null;
        int total = 0;
        int[] lengths = new int[parts.size()];
        for (int i = 0; i < parts.size(); i++) {
            for (Tensor k : parts.get(i)[0]) if (k != null) lengths[i] = k.size(2);
            total += lengths[i];
        }
        long[] mask = new long[batch * total];
        for (int b = 0; b < batch; b++) {
            for (int i = 0, at = 0; i < parts.size(); at += lengths[i], i++) {
                if (rows.get(i)[b]) Arrays.fill(mask, b * total + at, b * total + at + lengths[i], 1L);
            }
        }
        return Tensor.of(mask, batch, total);
    }

    /** One gate over the concatenated prefixes: each gated adapter's slice rescaled by its own gate; null if none is gated. */
    private KvCache.PrefixGate prefixGate(List<String> names, List<Tensor[][]> parts) {
        if (names.stream().noneMatch(prefixGates::containsKey)) return null;
        if (names.size() == 1) return prefixGates.get(names.get(0));
        return (layer, input, k, v) -> {
            List<Tensor> gk = new ArrayList<>(), gv = new ArrayList<>();
            int at = 0;
            for (int i = 0; i < names.size(); i++) {
                int n = parts.get(i)[0][layer].size(2);
                Tensor[] slice = {k.narrow(2, at, n), v.narrow(2, at, n)};
                KvCache.PrefixGate gate = prefixGates.get(names.get(i));
                if (gate != null) slice = gate.apply(layer, input, slice[0], slice[1]);
                gk.add(slice[0]);
                gv.add(slice[1]);
                at += n;
            }
            return new Tensor[] {Shapes.concat(2, gk), Shapes.concat(2, gv)};
        };
    }

}
