package org.peft4j.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.peft4j.io.onnx.BertImport;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.HfTokenizer;

/**
 * Where a model comes from, as a user names it wherever a model path is accepted: {@code builtin:<name>}
 * for a model embedded in a jar on the class path, anything else a Hugging Face checkpoint folder
 * (or, for {@link #config()} alone, its {@code config.json}).
 */
public final class ModelSource {
    /** The prefix that selects an embedded model. */
    public static final String BUILTIN_PREFIX = "builtin:";
    /** The embedded models, by the name after {@code builtin:}. */
    public static final List<String> BUILTINS = List.of(BuiltinMiniLm.NAME);

    private final String spec;
    private final Path path;
    private final String builtin;

    private ModelSource(String spec, Path path, String builtin) {
        this.spec = spec;
        this.path = path;
        this.builtin = builtin;
    }

    /**
     * Resolves a user's model argument.
     *
     * @throws IllegalArgumentException for a {@code builtin:} name that does not exist, listing those that do
     */
    public static ModelSource resolve(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("no model given: a checkpoint folder or "
                + builtinList() + " is needed");
        if (spec.startsWith(BUILTIN_PREFIX)) {
            String name = spec.substring(BUILTIN_PREFIX.length());
            if (!BUILTINS.contains(name)) {
                throw new IllegalArgumentException("unknown built-in model '" + spec + "'; built-in models: " + builtinList());
            }
            return new ModelSource(spec, null, name);
        }
        return new ModelSource(spec, Path.of(spec), null);
    }

    /** A checkpoint folder. */
    public static ModelSource of(Path folder) { return new ModelSource(folder.toString(), folder, null); }

    /** The argument as the user gave it. */
    public String spec() { return spec; }

    public boolean isBuiltin() { return builtin != null; }

    /** The checkpoint folder (or config file); empty for a built-in model. */
    public Optional<Path> path() { return Optional.ofNullable(path); }

    /**
     * The model's config alone, without building the model: {@code config.json} of a folder (or the file
     * itself), or the config a built-in model's import derives.
     */
    public ModelConfig config() throws IOException {
        return isBuiltin() ? builtinConfig(BuiltinMiniLm.load()) : ModelConfig.load(path);
    }

    /** Loads the model, storing its weights as {@code storage} says. */
    public PretrainedModel load(ModelLoader.WeightStorage storage) throws IOException {
        if (!isBuiltin()) return ModelLoader.load(path, storage);
        BertImport imported = BuiltinMiniLm.load();
        ModelConfig config = builtinConfig(imported);
        Map<String, Tensor> tensors = new LinkedHashMap<>(imported.tensors());
        tensors.replaceAll((n, t) -> storage.apply(t));
        Module model = ModelLoader.build(config, tensors, spec);
        // The import read the whole ONNX file onto the heap and copied the weights out of it. Collected
        // now, while little else is alive, that garbage cannot end up promoted beside the weights,
        // holding old-generation memory a training run would otherwise reuse (~90 MB of peak RSS).
        imported = null; // the parsed file is reachable through it
        System.gc();
        // the imported weights are heap copies: there is no memory-mapped checkpoint to keep open
        return new PretrainedModel(config, model, null);
    }

    /**
     * The model's tokenizer: the built-in model's, or {@code tokenizer.json} (with
     * {@code tokenizer_config.json} when present) of the checkpoint folder.
     *
     * @throws IOException when the folder has no {@code tokenizer.json}
     */
    public HfTokenizer tokenizer() throws IOException {
        if (isBuiltin()) return BuiltinMiniLm.tokenizer();
        Path folder = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        if (folder == null || !Files.isRegularFile(folder.resolve("tokenizer.json"))) {
            throw new IOException((folder == null ? path : folder) + ": no tokenizer.json (the model's Hugging Face "
                    + "fast tokenizer is needed to turn text into ids)");
        }
        return HfTokenizer.fromFile(folder);
    }

    @Override
    public String toString() { return spec; }

    private static ModelConfig builtinConfig(BertImport imported) {
        return ModelConfig.parse(new ObjectMapper().valueToTree(imported.config()),
                BUILTIN_PREFIX + BuiltinMiniLm.NAME + " (config derived from its ONNX graph)");
    }

    private static String builtinList() {
        return String.join(", ", BUILTINS.stream().map(n -> BUILTIN_PREFIX + n).toList());
    }
}
