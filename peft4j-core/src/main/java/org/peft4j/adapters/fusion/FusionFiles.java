package org.peft4j.adapters.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.peft4j.adapters.AdapterEntry;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.formats.AdapterFormat;
import org.peft4j.io.AtomicFiles;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Fusion folders. Both formats have an {@code adapter_fusion_config.json} with {@code adapter_names} and a
 * {@code config} object of AdapterHub's fusion fields; peft4j's also has {@code peft4j_version} and
 * {@code base_model}. AdapterHub's weights are {@code model_adapter_fusion.safetensors} under its keys
 * ({@code encoder.layer.0.output.adapter_fusion_layer.a,b,c.query.weight}, possibly with a base prefix such
 * as {@code bert.}); peft4j's are {@code adapter_fusion.safetensors} under peft4j's tensor names
 * ({@code encoder.layer.0.output.adapters.adapter_fusion_layer.a,b,c.query.weight}). Reading validates the
 * config, the fused adapters' presence, every key and every shape before the model keeps anything.
 */
final class FusionFiles {
    static final String CONFIG = "adapter_fusion_config.json";
    static final String ADAPTERHUB_WEIGHTS = "model_adapter_fusion.safetensors";
    static final String PEFT4J_WEIGHTS = "adapter_fusion.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern KEY = Pattern.compile(
            "^(.+)\\." + BottleneckSite.FUSION_LAYERS + "\\.([^.]+)\\.(query\\.weight|query\\.bias|key\\.weight|key\\.bias|value\\.weight)$");

    private FusionFiles() {}

    /** Reads a fusion folder of either format over adapters already on the model; returns saved key → tensor name. */
    static Map<String, String> load(PeftModel model, Path dir) throws IOException {
        Path configFile = dir.resolve(CONFIG);
        JsonNode root = AdapterFormat.readJson(configFile);
        boolean own = root.has("peft4j_version");
        List<String> names = adapterNames(root, configFile);
        checkSize(root.path("hidden_size"), "hidden size", model.config().hiddenSize(), configFile);
        checkSize(root.path("base_model").path("hidden_size"), "hidden size", model.config().hiddenSize(), configFile);
        checkSize(root.path("base_model").path("num_layers"), "layer count", model.config().numLayers(), configFile);
        FusionConfig config = config(root, names, configFile);
        List<String> absent = names.stream().filter(n -> !model.adapterNames().contains(n)).toList();
        if (!absent.isEmpty()) {
            throw new IOException(configFile + ": fuses " + names + " but the model lacks " + absent + " (load those adapters first); it has "
                    + model.adapterNames());
        }
        String fusionKey = FusionLayer.key(names);
        Path weights = dir.resolve(own ? PEFT4J_WEIGHTS : ADAPTERHUB_WEIGHTS);
        try (SafetensorsCheckpoint file = SafetensorsCheckpoint.open(weights)) {
            Map<String, Tensor> tensors = file.tensors();
            Map<String, String> keyToTree = new LinkedHashMap<>();
            List<String> problems = new ArrayList<>();
            for (String key : tensors.keySet()) {
                Matcher m = KEY.matcher(stripBasePrefix(model, key));
                if (!m.matches()) problems.add("tensor '" + key + "' is not a fusion tensor");
                else if (!m.group(2).equals(fusionKey)) problems.add("tensor '" + key + "' belongs to the fusion " + m.group(2) + ", the config names " + fusionKey);
                else keyToTree.put(key, treeName(m));
            }
            if (!problems.isEmpty()) throw new IOException(weights + ":\n  - " + String.join("\n  - ", problems));
            AdapterEntry entry;
            try {
                entry = FusionMethod.addFusion(model, names, config, 0);
            } catch (IllegalArgumentException e) {
                throw new IOException(dir + ": " + e.getMessage(), e);
            }
            try {
                fill(model, entry, tensors, keyToTree, weights);
            } catch (IOException | RuntimeException e) {
                model.deleteAdapter(entry.name());
                throw e;
            }
            return keyToTree;
        }
    }

    /** The fused adapter names: {@code adapter_names}, else AdapterHub's {@code name} ("a,b,c"). */
    private static List<String> adapterNames(JsonNode root, Path file) throws IOException {
        List<String> names = new ArrayList<>();
        if (root.path("adapter_names").isArray()) root.get("adapter_names").forEach(n -> names.add(n.asText()));
        else if (root.path("name").isTextual()) names.addAll(Arrays.asList(root.get("name").asText().split(",")));
        if (names.size() < 2) throw new IOException(file + ": 'adapter_names' must list at least two adapters, got " + names);
        return names;
    }

    private static FusionConfig config(JsonNode root, List<String> names, Path file) throws IOException {
        JsonNode c = root.get("config");
        if (c == null || !c.isObject()) throw new IOException(file + ": no 'config' object");
        try {
            ConfigArgs args = ConfigArgs.fromJson(FusionMethod.NAME, c);
            FusionConfig config = FusionConfig.read(args).withAdapters(names);
            args.finish();
            return config;
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static void checkSize(JsonNode field, String what, int actual, Path file) throws IOException {
        if (field.isNumber() && field.asInt() != actual) {
            throw new IOException(file + ": fusion made for a base with " + what + " " + field.asInt() + ", this model has " + actual);
        }
    }

    /** The tensor name of a matched key: the site path gains the {@code adapters} level BERT-style sublayers put the site under. */
    private static String treeName(Matcher m) {
        String site = m.group(1);
        boolean isSite = site.endsWith(".adapters") || site.endsWith("_adapters");
        return (isSite ? site : site + ".adapters") + "." + BottleneckSite.FUSION_LAYERS + "." + m.group(2) + "." + m.group(3);
    }

    /** AdapterHub keys of task models carry the base model's attribute name ({@code bert.}); peft4j's tree does not. */
    private static String stripBasePrefix(PeftModel model, String key) {
        for (String prefix : List.of("bert.", "roberta.", "transformer.", "model.")) {
            if (key.startsWith(prefix) && !model.base().hasChild(prefix.substring(0, prefix.length() - 1))) return key.substring(prefix.length());
        }
        return key;
    }

    /** Checks every file tensor against the new layers (present, same shape, none missing), then copies the values in. */
    private static void fill(PeftModel model, AdapterEntry entry, Map<String, Tensor> tensors, Map<String, String> keyToTree, Path file)
            throws IOException {
        Map<String, Tensor> params = model.namedParameters();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : keyToTree.entrySet()) {
            Tensor target = params.get(e.getValue());
            Tensor source = tensors.get(e.getKey());
            if (target == null) {
                problems.add("tensor '" + e.getKey() + "' belongs to '" + e.getValue() + "', where the fused adapters do not sit in this model");
            } else if (!Arrays.equals(target.shape(), source.shape())) {
                problems.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(source.shape()) + " but this model needs "
                        + Arrays.toString(target.shape()));
            }
        }
        TreeSet<String> missing = new TreeSet<>(entry.parameterNames());
        missing.removeAll(keyToTree.values());
        if (!missing.isEmpty()) problems.add("the file lacks " + missing);
        if (!problems.isEmpty()) throw new IOException(file + ": does not fit this model:\n  - " + String.join("\n  - ", problems));
        for (Map.Entry<String, String> e : keyToTree.entrySet()) model.assign(e.getValue(), tensors.get(e.getKey()));
    }

    /** Writes peft4j's fusion folder for the fusion over {@code adapters}, atomically (staged beside {@code dir}, then renamed). */
    static void save(PeftModel model, List<String> adapters, Path dir) throws IOException {
        String entryName = FusionMethod.entryName(adapters);
        if (!model.adapterNames().contains(entryName)) {
            throw new IOException("no fusion over " + adapters + " on this model (entries: " + model.adapterNames() + ")");
        }
        FusionConfig config = (FusionConfig) model.adapter(entryName).configs().getFirst();
        ObjectNode root = JSON.createObjectNode();
        root.put("peft4j_version", AdapterFiles.VERSION);
        root.put("name", FusionLayer.key(adapters));
        adapters.forEach(root.putArray("adapter_names")::add);
        root.set("config", config.fieldsJson());
        root.put("hidden_size", model.config().hiddenSize());
        ObjectNode base = root.putObject("base_model");
        base.put("model_type", model.config().modelType());
        base.put("hidden_size", model.config().hiddenSize());
        base.put("num_layers", model.config().numLayers());
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.adapterParameters(entryName).forEach((k, t) -> tensors.put(k, t.dtype() == DType.F32 ? t : t.detachedCopy(DType.F32)));
        writeFolder(dir, root, tensors);
    }

    private static void writeFolder(Path dir, JsonNode config, Map<String, Tensor> tensors) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path staging = Files.createTempDirectory(parent, "." + dir.getFileName() + ".tmp");
        try {
            AtomicFiles.writeString(staging.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config) + "\n");
            Safetensors.write(staging.resolve(PEFT4J_WEIGHTS), tensors, Map.of("format", "pt"));
            if (Files.exists(dir)) {
                Path old = Files.createTempDirectory(parent, "." + dir.getFileName() + ".old");
                Files.delete(old);
                Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            } else {
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
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
