package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.train.TaskModel;
import org.peft4j.train.Trainer;

/**
 * A trained adapter as the commands are given it: a run folder written by {@code train}, {@code fuse}
 * or {@code merge} (holding {@value Trainer#ADAPTER_DIR}/ and {@value RunInfo#FILE}), the adapter
 * folder inside one, or any adapter folder peft4j reads (peft4j, PEFT or AdapterHub format, with or
 * without peft4j's task head).
 *
 * @param dir    the folder with the adapter's files ({@code adapter_config.json}) and/or the head's
 *               ({@value TaskModel#HEAD_CONFIG})
 * @param runDir the run folder whose {@value RunInfo#FILE} describes it, or null
 * @param info   that run information, or null
 */
record AdapterFolder(Path dir, Path runDir, RunInfo info) {
    static final String ADAPTER_CONFIG = "adapter_config.json";

    /** Finds the adapter that {@code given} names. */
    static AdapterFolder find(Path given) throws IOException {
        if (!Files.exists(given)) throw new NoSuchFileException(given.toString());
        if (!Files.isDirectory(given)) throw new IOException(given + " is a file; give the adapter's folder");
        Path inner = given.resolve(Trainer.ADAPTER_DIR);
        if (holdsAdapter(inner)) return new AdapterFolder(inner, given, RunInfo.read(given).orElse(null));
        if (!holdsAdapter(given)) {
            throw new IOException(given + ": neither an adapter folder (" + ADAPTER_CONFIG + ", " + TaskModel.HEAD_CONFIG
                    + ") nor a run folder of peft4j train (" + Trainer.ADAPTER_DIR + "/)");
        }
        Optional<RunInfo> own = RunInfo.read(given);
        if (own.isPresent()) return new AdapterFolder(given, given, own.get());
        Path parent = given.toAbsolutePath().getParent();
        Optional<RunInfo> outer = parent == null ? Optional.empty() : RunInfo.read(parent);
        return outer.map(i -> new AdapterFolder(given, parent, i)).orElseGet(() -> new AdapterFolder(given, null, null));
    }

    private static boolean holdsAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(ADAPTER_CONFIG)) || Files.isRegularFile(dir.resolve(TaskModel.HEAD_CONFIG));
    }

    boolean hasHead() { return Files.isRegularFile(dir.resolve(TaskModel.HEAD_CONFIG)); }

    boolean hasAdapter() { return Files.isRegularFile(dir.resolve(ADAPTER_CONFIG)); }

    /** The base model this adapter was trained on: {@code model} when given, else the run's; an error when neither says. */
    String model(String given) {
        if (given != null) return given;
        if (info != null) return info.model();
        throw new IllegalArgumentException(dir + " does not record its base model (no " + RunInfo.FILE + "); give --model");
    }

    /** The token limit: {@code given} when set, else the run's, else the default. */
    int maxLength(Integer given) {
        if (given != null) return given;
        return info != null ? info.maxLength() : BudgetOptions.DEFAULT_MAX_LENGTH;
    }

    /** The fused adapters of an AdapterFusion run (empty otherwise). */
    List<RunInfo.Fused> fused() { return info == null ? List.of() : info.fused(); }

    /**
     * Puts the adapter on {@code model} (first the adapters it fuses, for AdapterFusion) and returns its
     * name on the model, or null when the folder holds only a head.
     */
    String install(PeftModel model) throws IOException {
        for (RunInfo.Fused f : fused()) AdapterFiles.load(model, runDir.resolve(f.path()), f.name());
        String name = hasAdapter() ? AdapterFiles.load(model, dir, null).name() : null;
        if (name != null) activate(model, name);
        return name;
    }

    /** The adapter with its task head, active, in evaluation mode. */
    TaskModel taskModel(PeftModel model) throws IOException {
        if (!hasHead()) {
            throw new IOException(dir + ": no " + TaskModel.HEAD_CONFIG + "; eval and predict need the task head that"
                    + " peft4j train saves beside the adapter");
        }
        String name = install(model);
        TaskModel task = TaskModel.load(model, name, dir);
        if (name != null) activate(model, name);
        task.trainMode(false);
        return task;
    }

    /** Runs adapter {@code name}; for an AdapterFusion run the fusion over its adapters, {@code Fuse(a, b, c)}. */
    void activate(PeftModel model, String name) {
        if (fused().isEmpty()) {
            model.setActive(name);
            return;
        }
        model.setActive(Fuse.of(fused().stream().map(RunInfo.Fused::name).toArray(String[]::new)));
    }
}
