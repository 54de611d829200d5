package org.peft4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.AtomicFolder;
import org.peft4j.train.TaskModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j merge}: folds a LoRA-family adapter into the base weights and writes a plain checkpoint. */
@Command(name = "merge", header = "Fold a LoRA-family adapter into the base model's weights.",
        description = {"Merges a LoRA, DoRA, (IA)3, LoHa or LoKr adapter into the weights of its base model and writes"
                + " a Hugging Face checkpoint folder that transformers loads as the base architecture: config.json,"
                + " model.safetensors (the base's tensor names, each in its original dtype) and the tokenizer files."
                + " The adapter's task head, if any, is kept beside them (head_config.json, head.safetensors) with a"
                + " run.json, so that peft4j eval and predict take the folder as --adapter.",
                "", "The folder is written in a staging folder and moved into place, so OUTPUT is never left half-written."})
final class MergeCommand implements Callable<Integer> {
    /** Tokenizer files a checkpoint folder may have, copied as they are. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model");
    static final String WEIGHTS = "model.safetensors";

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", paramLabel = "MODEL",
            description = "The base checkpoint folder or builtin:… (default: the one the adapter's run recorded).")
    String model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR",
            description = "A run folder of train, or an adapter folder (peft4j or PEFT format).")
    Path adapter;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "The merged checkpoint folder to write.")
    Path output;

    @Override
    public Integer call() throws IOException {
        AdapterFolder folder = AdapterFolder.find(adapter);
        if (!folder.hasAdapter()) throw new IOException(folder.dir() + ": no adapter_config.json, so no adapter to merge");
        if (!folder.fused().isEmpty()) throw new IllegalArgumentException(adapter + " is an AdapterFusion, which cannot be merged into weights");
        ModelSource source = ModelSource.resolve(folder.model(model));
        try (PretrainedModel pm = TrainJob.loadModel(source, WeightStorage.AS_STORED, main.out)) {
            Map<String, DType> stored = new LinkedHashMap<>();
            pm.model().namedParameters().forEach((n, t) -> stored.put(n, t.dtype()));
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            String name = AdapterFiles.load(peft, folder.dir(), null).name();
            List<String> methods = peft.adapter(name).configs().stream().map(MethodConfig::method).toList();
            int layers = merge(peft, name, stored.keySet());
            Map<String, Tensor> tensors = checkpointTensors(pm.model(), stored);
            AtomicFolder.write(output, dir -> writeCheckpoint(dir, source, tensors, folder));
            main.out.printf("merged   adapter '%s' (%s) into %d linear layers%n", name, String.join("|", methods), layers);
            main.out.println("wrote    " + output.toAbsolutePath() + ": config.json, " + WEIGHTS
                    + (folder.hasHead() ? ", the tokenizer, and the task head for peft4j eval/predict" : " and the tokenizer"));
        }
        return 0;
    }

    /**
     * Folds adapter {@code name} into the weights and removes it; returns the number of linear layers it
     * changed. Refused when a part of it lives outside linear layers (bottleneck adapters, prefixes,
     * prompts), which no weight can absorb.
     */
    static int merge(PeftModel peft, String name, Set<String> baseNames) {
        int layers = 0;
        for (Module m : peft.base().namedModules().values()) {
            if (m instanceof AdaptedLinear al && al.adapters().containsKey(name)) layers++;
        }
        peft.setActive(name);
        peft.mergeAndUnload();
        if (peft.adapterNames().contains(name)) {
            Map<String, Tensor> now = peft.namedParameters();
            TreeSet<String> left = new TreeSet<>();
            for (String p : peft.adapter(name).parameterNames()) if (now.containsKey(p) && !baseNames.contains(p)) left.add(p);
            if (!left.isEmpty()) {
                throw new IllegalArgumentException("adapter '" + name + "' has parts outside linear layers that cannot be folded"
                        + " into weights (e.g. " + left.first() + "); merge takes LoRA, DoRA, (IA)3, LoHa and LoKr adapters");
            }
        }
        return layers;
    }

    /**
     * The merged base's tensors under their checkpoint names, each in the dtype it was stored in (merged
     * weights come out of the merge in float32); a tensor reachable by two names (tied weights) is written once.
     */
    static Map<String, Tensor> checkpointTensors(Module base, Map<String, DType> stored) {
        Map<String, Tensor> now = base.namedParameters();
        if (!now.keySet().equals(stored.keySet())) {
            TreeSet<String> extra = new TreeSet<>(now.keySet()), missing = new TreeSet<>(stored.keySet());
            extra.removeAll(stored.keySet());
            missing.removeAll(now.keySet());
            throw new IllegalStateException("after merging, the model's tensors differ from the base's: extra " + extra + ", missing " + missing);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        now.forEach((n, t) -> {
            if (!seen.add(t)) return;
            DType dtype = stored.get(n);
            out.put(n, t.dtype() == dtype ? t : t.detachedCopy(dtype));
        });
        return out;
    }

    private static void writeCheckpoint(Path dir, ModelSource source, Map<String, Tensor> tensors, AdapterFolder folder) throws IOException {
        Safetensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        if (source.isBuiltin()) {
            Files.writeString(dir.resolve("config.json"), BuiltinMiniLm.load().configJson(), StandardCharsets.UTF_8);
            Files.write(dir.resolve("tokenizer.json"), BuiltinMiniLm.tokenizerJson());
        } else {
            Path from = source.path().orElseThrow();
            Files.copy(from.resolve("config.json"), dir.resolve("config.json"));
            for (String f : TOKENIZER_FILES) if (Files.isRegularFile(from.resolve(f))) Files.copy(from.resolve(f), dir.resolve(f));
        }
        if (folder.hasHead()) {
            for (String f : List.of(TaskModel.HEAD_CONFIG, TaskModel.HEAD_WEIGHTS)) {
                if (Files.isRegularFile(folder.dir().resolve(f))) Files.copy(folder.dir().resolve(f), dir.resolve(f));
            }
            RunInfo info = folder.info();
            new RunInfo(".", info == null ? null : info.data(), null, null, folder.maxLength(null),
                    info == null ? BudgetOptions.DEFAULT_SPLIT_SEED : info.splitSeed(),
                    info == null ? BudgetOptions.DEFAULT_SPLIT_SEED : info.seed(), null).write(dir);
        }
    }
}
