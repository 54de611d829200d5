package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.fusion.FusionConfig;
import org.peft4j.adapters.fusion.FusionMethod;
import org.peft4j.data.Batcher;
import org.peft4j.data.Datasets;
import org.peft4j.data.Splits;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.train.AtomicFolder;
import org.peft4j.train.TaskModel;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j fuse}: AdapterFusion over trained adapters, trained on a target dataset. */
@Command(name = "fuse", header = "Train an AdapterFusion over trained adapters on a target dataset.",
        description = {"Loads the given bottleneck adapters (run folders of train, or adapter folders) frozen, adds"
                + " fusion layers over them (AdapterHub's dynamic fusion unless --fusion says otherwise) and a new task"
                + " head, and trains only those on the target data, split and reported on as train does.",
                "", "OUTPUT receives adapters/<name>/ (copies of the fused adapters), adapter/ (the fusion layers and"
                + " head), metrics.json, metrics.jsonl, checkpoint/ and run.json; eval and predict take it as --adapter."})
final class FuseCommand implements Callable<Integer> {
    /** Where the fused adapters are copied inside the run folder. */
    static final String FUSED_DIR = "adapters";

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", paramLabel = "MODEL", description = "The base model (default: the one the first adapter's run recorded).")
    String model;

    @Option(names = "--adapters", required = true, split = ",", paramLabel = "DIR",
            description = "Two or more trained bottleneck adapters, comma-separated; each is named after its folder.")
    List<Path> adapters;

    @Option(names = "--data", required = true, paramLabel = "DATA", description = "The target data: a .jsonl/.csv file or builtin:….")
    String data;

    @Option(names = "--fusion", paramLabel = "SPEC", description = "The fusion's settings, e.g. fuse[static=true] (default: ${DEFAULT-VALUE}).")
    String fusion = "fuse";

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "The run folder.")
    Path output;

    @Option(names = "--resume", description = "Continue from OUTPUT's last checkpoint (same settings).")
    boolean resume;

    @Mixin
    BudgetOptions budget;

    @Override
    public Integer call() throws IOException {
        List<AdapterFolder> folders = new ArrayList<>();
        for (Path a : adapters) folders.add(AdapterFolder.find(a));
        if (folders.size() < 2) throw new IllegalArgumentException("--adapters needs at least two adapters to fuse, got " + folders.size());
        Map<String, AdapterFolder> named = names(folders);
        String modelSpec = folders.get(0).model(model);
        TrainingConfig config = budget.config(fusion);
        FusionConfig fusionConfig = fusionConfig(fusion);

        Splits splits = TrainJob.loadSplits(data, budget.splitSeed(), main.out);
        ModelSource source = ModelSource.resolve(modelSpec);
        try (PretrainedModel pm = TrainJob.loadModel(source, budget.storage(), main.out)) {
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            List<RunInfo.Fused> fused = new ArrayList<>();
            for (Map.Entry<String, AdapterFolder> e : named.entrySet()) {
                AdapterFiles.load(peft, e.getValue().dir(), e.getKey());
                fused.add(new RunInfo.Fused(e.getKey(), FUSED_DIR + "/" + e.getKey()));
            }
            List<String> names = List.copyOf(named.keySet());
            String entry = FusionMethod.addFusion(peft, names, fusionConfig, config.seed()).name();
            TaskModel task = TrainJob.taskModel(peft, entry, splits.train(), config.seed());
            RunInfo info = new RunInfo(RunInfo.stored(modelSpec, ModelSource.BUILTIN_PREFIX), RunInfo.stored(data, Datasets.BUILTIN),
                    fusion, entry, budget.maxLength(), budget.splitSeed(), config.seed(), fused);
            AdapterFolder self = new AdapterFolder(output.resolve(Trainer.ADAPTER_DIR), output, info);
            self.activate(peft, entry);
            main.out.printf(Locale.ROOT, "fusion   Fuse(%s) over %s, lr %s%n", String.join(", ", names),
                    String.join(", ", folders.stream().map(f -> f.dir().toString()).toList()), TrainJob.formatLr(config.lr()));
            copyAdapters(named, output.resolve(FUSED_DIR));
            info.write(output);
            Batcher batcher = new Batcher(source.tokenizer(), budget.maxLength(), config.batchSize());
            TrainJob.fit(task, splits, config, batcher, output, resume, main.out, Main.interactive());
        }
        return 0;
    }

    /** The fusion's config from {@code spec} ({@code fuse[...]}); its adapter list is filled in later. */
    static FusionConfig fusionConfig(String spec) {
        List<MethodConfig> configs = MethodRegistry.parse(spec);
        if (configs.size() != 1 || !(configs.get(0) instanceof FusionConfig f)) {
            throw new IllegalArgumentException("--fusion must be a fuse[...] specification, got '" + spec + "'");
        }
        return f;
    }

    /**
     * Each adapter under a name made from its run folder's name (letters, digits, '-' and '_'), made
     * unique with a number; the name keys its fusion layers and its copy under {@value #FUSED_DIR}/.
     */
    static Map<String, AdapterFolder> names(List<AdapterFolder> folders) {
        Map<String, AdapterFolder> out = new LinkedHashMap<>();
        for (AdapterFolder f : folders) {
            Path named = f.runDir() != null ? f.runDir() : f.dir();
            Path fileName = named.toAbsolutePath().normalize().getFileName();
            String base = fileName == null ? "adapter" : fileName.toString().replaceAll("[^A-Za-z0-9_-]", "_");
            String name = base;
            for (int i = 2; out.containsKey(name); i++) name = base + "_" + i;
            out.put(name, f);
        }
        return out;
    }

    /** Copies the fused adapters' files into {@code dir}/&lt;name&gt;/, so the run folder holds all it needs. */
    private static void copyAdapters(Map<String, AdapterFolder> named, Path dir) throws IOException {
        for (Map.Entry<String, AdapterFolder> e : named.entrySet()) {
            Path target = dir.resolve(e.getKey());
            AtomicFolder.write(target, staging -> {
                try (Stream<Path> files = Files.list(e.getValue().dir())) {
                    for (Path f : files.filter(Files::isRegularFile).toList()) Files.copy(f, staging.resolve(f.getFileName()));
                }
            });
        }
    }
}
