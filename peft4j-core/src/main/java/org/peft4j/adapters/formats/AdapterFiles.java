package org.peft4j.adapters.formats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.AdapterMethod;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.io.AtomicFiles;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Reads and writes adapter folders in peft4j's, PEFT's and AdapterHub's formats. Reading validates
 * before it changes the model: a folder made for another base (hidden size, layer count, a module the
 * model lacks) is refused with a message saying which. Writing builds the whole folder beside the
 * target and renames it into place, so no half-written adapter is ever visible.
 */
public final class AdapterFiles {
    /** The version written into peft4j's own adapter folders. */
    public static final String VERSION = "0.1.0";

    private AdapterFiles() {}

    /** Loads an adapter folder of any supported format under {@code name} (null: the folder's own name). */
    public static LoadedAdapter load(PeftModel model, Path dir, String name) throws IOException {
        return switch (AdapterFormat.detect(dir)) {
            case PEFT4J -> loadPeft4j(model, dir, name);
            case PEFT -> loadPeft(model, dir, name == null ? "default" : name);
            case ADAPTERHUB -> loadAdapterHub(model, dir, name);
        };
    }

    // ------------------------------------------------------------------ PEFT

    static LoadedAdapter loadPeft(PeftModel model, Path dir, String name) throws IOException {
        Path configFile = dir.resolve("adapter_config.json");
        JsonNode config = AdapterFormat.readJson(configFile);
        String type = config.path("peft_type").asText();
        PeftFormatSupport support = null;
        for (AdapterMethod m : MethodRegistry.methods()) {
            if (m instanceof PeftFormatSupport s && s.peftTypes().contains(type)) support = s;
        }
        if (support == null) throw new IOException(configFile + ": peft_type '" + type + "' is not supported");
        MethodConfig methodConfig;
        try {
            methodConfig = support.fromPeftConfig(config);
        } catch (IllegalArgumentException e) {
            throw new IOException(configFile + ": " + e.getMessage(), e);
        }
        Path weights = dir.resolve("adapter_model.safetensors");
        if (!Files.exists(weights)) {
            throw new IOException(dir + ": no adapter_model.safetensors" + (Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a pickle; peft4j reads safetensors only)" : ""));
        }
        try (SafetensorsCheckpoint file = SafetensorsCheckpoint.open(weights)) {
            Map<String, String> keyToTree = new LinkedHashMap<>();
            for (String key : file.tensors().keySet()) {
                String tree = support.treeName(key, name);
                if (tree == null) throw new IOException(weights + ": tensor '" + key + "' is not a " + type + " tensor");
                keyToTree.put(key, tree);
            }
            install(model, name, List.of(methodConfig), file.tensors(), keyToTree, weights);
            Map<String, String> memory = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : keyToTree.entrySet()) memory.put(support.peftMemoryName(e.getKey(), name), e.getValue());
            return new LoadedAdapter(name, AdapterFormat.PEFT, memory);
        }
    }

    /** Saves adapter {@code name} as a PEFT folder that Python PEFT loads (LoRA, DoRA, IA3, prefix, prompt, LoHa, LoKr). */
    public static void savePeft(PeftModel model, String name, Path dir) throws IOException {
        AdapterEntry entry = model.adapter(name);
        if (entry.configs().size() != 1) throw new IOException("adapter '" + name + "' is a union of methods; PEFT stores one method per folder");
        MethodConfig config = entry.configs().get(0);
        if (!(MethodRegistry.method(config.method()) instanceof PeftFormatSupport support)) {
            throw new IOException("method '" + config.method() + "' has no PEFT format; save it in peft4j's format");
        }
        ObjectNode json = support.toPeftConfig(config, model.config());
        if (!json.hasNonNull("task_type")) {
            // PEFT skips prompt handling without a task type; a base model without a head is one of these two
            json.put("task_type", model.config().architecture().isDecoder() ? "CAUSAL_LM" : "FEATURE_EXTRACTION");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.adapterParameters(name).forEach((tree, t) -> tensors.put(support.peftKey(tree, name), t));
        writeFolder(dir, Map.of("adapter_config.json", json), Map.of("adapter_model.safetensors", tensors));
    }

    // ------------------------------------------------------------------ AdapterHub

    static LoadedAdapter loadAdapterHub(PeftModel model, Path dir, String name) throws IOException {
        Path configFile = dir.resolve("adapter_config.json");
        JsonNode root = AdapterFormat.readJson(configFile);
        JsonNode config = root.get("config");
        if (name == null) name = root.path("name").asText("default");
        if (root.has("hidden_size") && root.get("hidden_size").asInt() != model.config().hiddenSize()) {
            throw new IOException(configFile + ": adapter made for hidden size " + root.get("hidden_size").asInt()
                    + ", this model has " + model.config().hiddenSize());
        }
        List<AdapterHubFormatSupport> matches = new ArrayList<>();
        for (AdapterMethod m : MethodRegistry.methods()) {
            if (m instanceof AdapterHubFormatSupport s && s.accepts(config)) matches.add(s);
        }
        if (matches.size() != 1) {
            throw new IOException(configFile + ": " + (matches.isEmpty() ? "no peft4j method reads this AdapterHub config"
                    : "several methods claim this AdapterHub config: " + matches));
        }
        AdapterHubFormatSupport support = matches.get(0);
        MethodConfig methodConfig;
        try {
            methodConfig = support.fromAdapterHubConfig(config);
        } catch (IllegalArgumentException e) {
            throw new IOException(configFile + ": " + e.getMessage(), e);
        }
        Path weights = dir.resolve("adapter.safetensors");
        try (SafetensorsCheckpoint file = SafetensorsCheckpoint.open(weights)) {
            Map<String, String> keyToTree = new LinkedHashMap<>();
            for (String key : file.tensors().keySet()) {
                String tree = support.treeName(stripBasePrefix(model, key), name);
                if (tree == null) throw new IOException(weights + ": tensor '" + key + "' is not part of this adapter");
                keyToTree.put(key, tree);
            }
            install(model, name, List.of(methodConfig), file.tensors(), keyToTree, weights);
            return new LoadedAdapter(name, AdapterFormat.ADAPTERHUB, keyToTree);
        }
    }

    /** AdapterHub keys of task models carry the base model's attribute name ({@code bert.}); peft4j's tree does not. */
    static String stripBasePrefix(PeftModel model, String key) {
        for (String prefix : List.of("bert.", "roberta.", "transformer.", "model.")) {
            if (key.startsWith(prefix) && !model.base().hasChild(prefix.substring(0, prefix.length() - 1))) {
                return key.substring(prefix.length());
            }
        }
        return key;
    }

    // ------------------------------------------------------------------ peft4j

    static LoadedAdapter loadPeft4j(PeftModel model, Path dir, String name) throws IOException {
        Path configFile = dir.resolve("adapter_config.json");
        JsonNode root = AdapterFormat.readJson(configFile);
        if (name == null) name = root.path("name").asText("default");
        JsonNode base = root.path("base_model");
        checkBase(model, base, "hidden_size", model.config().hiddenSize(), configFile);
        checkBase(model, base, "num_layers", model.config().numLayers(), configFile);
        List<MethodConfig> configs = new ArrayList<>();
        for (JsonNode m : root.path("methods")) {
            String method = m.path("method").asText();
            try {
                AdapterMethod am = MethodRegistry.method(method);
                ObjectNode fields = m.deepCopy();
                fields.remove("method");
                configs.add(am.fromJson(fields));
            } catch (IllegalArgumentException e) {
                throw new IOException(configFile + ": " + e.getMessage(), e);
            }
        }
        if (configs.isEmpty()) throw new IOException(configFile + ": no methods");
        Path weights = dir.resolve("adapter.safetensors");
        try (SafetensorsCheckpoint file = SafetensorsCheckpoint.open(weights)) {
            Map<String, String> keyToTree = new LinkedHashMap<>();
            String saved = root.path("name").asText(name);
            for (String key : file.tensors().keySet()) keyToTree.put(key, saved.equals(name) ? key : renamed(key, saved, name));
            install(model, name, configs, file.tensors(), keyToTree, weights, true);
            return new LoadedAdapter(name, AdapterFormat.PEFT4J, keyToTree);
        }
    }

    /** A saved tensor name with the adapter's name components changed from {@code from} to {@code to}. */
    static String renamed(String key, String from, String to) {
        String[] parts = key.split("\\.");
        for (int i = 0; i < parts.length; i++) if (parts[i].equals(from)) parts[i] = to;
        return String.join(".", parts);
    }

    private static void checkBase(PeftModel model, JsonNode base, String field, int actual, Path file) throws IOException {
        if (base.has(field) && base.get(field).asInt() != actual) {
            throw new IOException(file + ": adapter made for a base with " + field + " " + base.get(field).asInt()
                    + ", this model has " + actual);
        }
    }

    /** Saves adapter {@code name} in peft4j's own format (every method, exact tensor names). */
    public static void save(PeftModel model, String name, Path dir) throws IOException {
        AdapterEntry entry = model.adapter(name);
        ObjectNode root = AdapterFormat.JSON.createObjectNode();
        root.put("peft4j_version", VERSION);
        root.put("name", name);
        ObjectNode base = root.putObject("base_model");
        base.put("model_type", model.config().modelType());
        base.put("hidden_size", model.config().hiddenSize());
        base.put("num_layers", model.config().numLayers());
        root.put("hidden_size", model.config().hiddenSize());
        ArrayNode methods = root.putArray("methods");
        for (MethodConfig c : entry.configs()) {
            ObjectNode m = methods.addObject();
            m.put("method", c.method());
            m.setAll(c.toJson());
        }
        Map<String, Tensor> tensors = model.adapterParameters(name);
        for (MethodConfig c : entry.configs()) {
            if (MethodRegistry.method(c.method()) instanceof Peft4jFormatSupport s) tensors = s.toFileTensors(model, name, c, tensors);
        }
        writeFolder(dir, Map.of("adapter_config.json", root), Map.of("adapter.safetensors", tensors));
    }

    // ------------------------------------------------------------------ shared

    /**
     * Adds the adapter from its configs and fills its tensors from the file; a file that names tensors
     * the model lacks or misses tensors the adapter has is refused, and the half-made adapter removed.
     */
    static void install(PeftModel model, String name, List<MethodConfig> configs, Map<String, Tensor> fileTensors,
                        Map<String, String> keyToTree, Path file) throws IOException {
        install(model, name, configs, fileTensors, keyToTree, file, false);
    }

    /**
     * As above; for peft4j's own format ({@code ownFormat}) the methods that store tensors their own way
     * ({@link Peft4jFormatSupport}) first shape the installed adapter after the file and consume their extra entries.
     */
    static void install(PeftModel model, String name, List<MethodConfig> configs, Map<String, Tensor> fileTensors,
                        Map<String, String> keyToTree, Path file, boolean ownFormat) throws IOException {
        try {
            model.addAdapter(name, configs, 0);
        } catch (IllegalArgumentException e) {
            throw new IOException(file.getParent() + ": " + e.getMessage(), e);
        }
        try {
            if (ownFormat) consumeOwnEntries(model, name, configs, fileTensors, keyToTree);
            Map<String, Tensor> params = model.namedParameters();
            List<String> own = model.adapter(name).parameterNames();
            List<String> problems = new ArrayList<>();
            for (Map.Entry<String, String> e : keyToTree.entrySet()) {
                Tensor target = params.get(e.getValue());
                Tensor source = fileTensors.get(e.getKey());
                if (target != null && !own.contains(e.getValue())) {
                    problems.add("tensor '" + e.getKey() + "' maps to '" + e.getValue() + "', which is not part of adapter '" + name + "'");
                } else if (target == null) {
                    problems.add("tensor '" + e.getKey() + "' belongs to '" + e.getValue() + "', which this model does not have");
                } else if (!java.util.Arrays.equals(target.shape(), source.shape())) {
                    problems.add("tensor '" + e.getKey() + "' has shape " + java.util.Arrays.toString(source.shape())
                            + " but this model needs " + java.util.Arrays.toString(target.shape()));
                }
            }
            TreeSet<String> missing = new TreeSet<>(model.adapter(name).parameterNames());
            missing.removeAll(keyToTree.values());
            missing.removeIf(n -> !params.get(n).requiresGrad() && isBaseTensor(model, n));
            if (!missing.isEmpty()) problems.add("the file lacks " + missing);
            if (!problems.isEmpty()) throw new IOException(file + ": does not fit this model:\n  - " + String.join("\n  - ", problems));
            for (Map.Entry<String, String> e : keyToTree.entrySet()) model.assign(e.getValue(), fileTensors.get(e.getKey()));
        } catch (IOException | RuntimeException e) {
            model.deleteAdapter(name);
            throw e;
        }
    }

    /**
     * Hands the file's tensors, by tree name, to the methods that store tensors their own way
     * ({@link Peft4jFormatSupport}) and drops from {@code keyToTree} the entries they consumed.
     */
    private static void consumeOwnEntries(PeftModel model, String name, List<MethodConfig> configs, Map<String, Tensor> fileTensors,
                                          Map<String, String> keyToTree) throws IOException {
        Map<String, Tensor> byTree = new LinkedHashMap<>();
        keyToTree.forEach((key, tree) -> byTree.put(tree, fileTensors.get(key)));
        Map<String, Tensor> left = byTree;
        for (MethodConfig c : configs) {
            if (MethodRegistry.method(c.method()) instanceof Peft4jFormatSupport s) left = s.fromFileTensors(model, name, c, left);
        }
        keyToTree.values().retainAll(left.keySet());
    }

    private static boolean isBaseTensor(PeftModel model, String name) { return model.base().namedParameters().containsKey(name); }

    /** Writes JSON and safetensors files into a fresh folder beside {@code dir}, then swaps it in. */
    static void writeFolder(Path dir, Map<String, JsonNode> jsonFiles, Map<String, Map<String, Tensor>> tensorFiles) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path staging = Files.createTempDirectory(parent, "." + dir.getFileName() + ".tmp");
        try {
            for (Map.Entry<String, JsonNode> e : jsonFiles.entrySet()) {
                AtomicFiles.writeString(staging.resolve(e.getKey()),
                        AdapterFormat.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(e.getValue()) + "\n");
            }
            for (Map.Entry<String, Map<String, Tensor>> e : tensorFiles.entrySet()) {
                Map<String, Tensor> f32 = new LinkedHashMap<>();
                // floating tensors are stored as F32; integer ones (sparsity patterns) keep their type
                e.getValue().forEach((k, t) -> f32.put(k, t.dtype() == DType.F32 || !t.dtype().isFloating() ? t : t.detachedCopy(DType.F32)));
                Safetensors.write(staging.resolve(e.getKey()), f32, Map.of("format", "pt"));
            }
            if (Files.exists(dir)) {
                Path old = Files.createTempDirectory(parent, "." + dir.getFileName() + ".old");
                Files.delete(old);
                Files.move(dir, old, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                Files.move(staging, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            } else {
                Files.move(staging, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            if (Files.exists(staging)) deleteTree(staging);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
