package org.peft4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.peft4j.data.Datasets;
import org.peft4j.io.AtomicFiles;
import org.peft4j.models.ModelSource;
import org.peft4j.train.TrainingConfig;

/**
 * What a run folder was made from ({@value #FILE}): the model, the data and its split, the method and
 * the token limit, so that {@code eval}, {@code predict} and {@code merge} need not be told again.
 * Folder paths are stored absolute, or relative to the run folder (a merged checkpoint names itself
 * {@code .}), and resolved against it when read.
 *
 * @param model       the base model: {@code builtin:…} or a checkpoint folder
 * @param data        the training data: {@code builtin:…} or a file; null when unknown
 * @param method      the method specification, or {@code fuse} for AdapterFusion; null when unknown
 * @param adapterName the adapter's name on the model
 * @param maxLength   tokens per example it was trained with
 * @param splitSeed   the seed of the train/dev/test split
 * @param seed        the training seed, which also drew the {@code --eval-limit} subsets
 * @param fused       for AdapterFusion: the fused adapters by name, their folders relative to the run folder
 */
record RunInfo(String model, String data, String method, String adapterName, int maxLength, long splitSeed, long seed,
               List<Fused> fused) {
    static final String FILE = "run.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One adapter under an AdapterFusion: its name on the model and its folder. */
    record Fused(String name, String path) {}

    RunInfo {
        fused = fused == null ? List.of() : List.copyOf(fused);
    }

    /** Writes {@value #FILE} into {@code dir}. */
    void write(Path dir) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("peft4j_version", VersionInfo.version());
        n.put("model", model);
        if (data != null) n.put("data", data);
        if (method != null) n.put("method", method);
        if (adapterName != null) n.put("adapter_name", adapterName);
        n.put("max_length", maxLength);
        n.put("split_seed", splitSeed);
        n.put("seed", seed);
        if (!fused.isEmpty()) {
            ArrayNode a = n.putArray("fused");
            for (Fused f : fused) a.addObject().put("name", f.name()).put("path", f.path());
        }
        Files.createDirectories(dir);
        AtomicFiles.writeString(dir.resolve(FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n");
    }

    /** The run information in {@code dir}, if it has a {@value #FILE}. */
    static Optional<RunInfo> read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) return Optional.empty();
        JsonNode n;
        try {
            n = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (!n.hasNonNull("model")) throw new IOException(file + ": no 'model'");
        List<Fused> fused = new ArrayList<>();
        n.path("fused").forEach(f -> fused.add(new Fused(f.path("name").asText(), f.path("path").asText())));
        return Optional.of(new RunInfo(resolve(dir, n.get("model").asText(), ModelSource.BUILTIN_PREFIX),
                n.hasNonNull("data") ? resolve(dir, n.get("data").asText(), Datasets.BUILTIN) : null,
                n.path("method").asText(null), n.path("adapter_name").asText(null),
                n.path("max_length").asInt(BudgetOptions.DEFAULT_MAX_LENGTH),
                n.path("split_seed").asLong(BudgetOptions.DEFAULT_SPLIT_SEED),
                n.path("seed").asLong(TrainingConfig.defaults().seed()), fused));
    }

    /** How a model or data argument is stored: {@code builtin:…} as given, a path made absolute. */
    static String stored(String spec, String builtinPrefix) {
        return spec.startsWith(builtinPrefix) ? spec : Path.of(spec).toAbsolutePath().normalize().toString();
    }

    /** Whether {@code spec} names the same data as this run's. */
    boolean sameData(String spec) {
        return data != null && data.equals(stored(spec, Datasets.BUILTIN));
    }

    private static String resolve(Path dir, String spec, String builtinPrefix) {
        if (spec.startsWith(builtinPrefix)) return spec;
        return dir.toAbsolutePath().resolve(spec).normalize().toString();
    }
}
