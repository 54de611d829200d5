package org.peft4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.random.RandomGenerator;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.composition.Fuse;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.adapters.fusion.FusionConfig;
import org.peft4j.adapters.fusion.FusionMethod;
import org.peft4j.autograd.GradMode;
import org.peft4j.data.Batch;
import org.peft4j.data.TaskType;
import org.peft4j.io.AtomicFiles;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.models.heads.Pooling;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.ops.Losses;
import org.peft4j.ops.Softmax;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A {@link PeftModel} with what a task needs on top: a classification or regression head over the
 * encoder's pooled hidden states, or, for causal language modelling, the decoder's own LM head. Gives
 * the loss and predictions of a {@link Batch}; what trains is the one adapter it was made for (if any)
 * and the head. Heads are saved beside the adapter as {@value #HEAD_CONFIG} (task, pooling, label names)
 * and {@value #HEAD_WEIGHTS}.
 */
public final class TaskModel {
    public static final String HEAD_CONFIG = "head_config.json";
    public static final String HEAD_WEIGHTS = "head.safetensors";
    /** The label name of a regression head's single output. */
    public static final String REGRESSION_LABEL = "value";
    /** Head dropout when none is given: BERT's hidden dropout, as its classifiers use. */
    public static final double DEFAULT_HEAD_DROPOUT = 0.1;
    private static final String HEAD_PREFIX = "head.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PeftModel model;
    private final String adapter;
    private final TaskType task;
    private final ClassificationHead head;
    private final double headDropout;
    /** Whether the trained adapter is an AdapterFusion entry (whose training adds a regularisation term). */
    private final boolean fusion;

    private TaskModel(PeftModel model, String adapter, TaskType task, ClassificationHead head, double headDropout) {
        this.model = model;
        this.adapter = adapter;
        this.task = task;
        this.head = head;
        this.headDropout = headDropout;
        FusionConfig fused = adapter == null ? null : fusionConfig(model, adapter);
        this.fusion = fused != null;
        if (adapter == null) {
            model.deactivate();
            model.train();
        } else {
            // an AdapterFusion entry runs as Fuse over its adapters
            model.setActive(fused != null ? Fuse.of(fused.adapters().toArray(String[]::new)) : Composition.parse(adapter));
            model.train(adapter);
        }
    }

    /** The fusion config of entry {@code adapter}, or null when it is no AdapterFusion. */
    private static FusionConfig fusionConfig(PeftModel model, String adapter) {
        for (MethodConfig c : model.adapter(adapter).configs()) if (c instanceof FusionConfig f) return f;
        return null;
    }

    /**
     * A task model over {@code model} that activates and trains adapter {@code adapter} (null: no adapter,
     * only the head trains over the frozen base).
     *
     * @param labels      class names (classification, at least two); ignored for the other tasks
     * @param pooling     how the encoder's states become one vector per example (classification, regression)
     * @param headDropout dropout before the head's projection while training
     * @param seed        initialises the head
     */
    public static TaskModel create(PeftModel model, String adapter, TaskType task, List<String> labels, Pooling pooling,
                                   double headDropout, long seed) {
        ModelConfig c = model.config();
        if (task == TaskType.CAUSAL_LM) {
            if (!c.architecture().isDecoder()) {
                throw new IllegalArgumentException("causal language modelling needs a decoder (GPT-2, Llama, Qwen2); "
                        + c.modelType() + " is an encoder");
            }
            return new TaskModel(model, adapter, task, null, 0);
        }
        if (c.architecture().isDecoder()) {
            throw new IllegalArgumentException(task.name().toLowerCase(Locale.ROOT) + " needs an encoder (BERT family); "
                    + c.modelType() + " is a decoder, which peft4j trains on causal-LM data");
        }
        List<String> names;
        if (task == TaskType.REGRESSION) {
            names = List.of(REGRESSION_LABEL);
        } else {
            if (labels == null || labels.size() < 2) {
                throw new IllegalArgumentException("classification needs at least two label names, got " + labels);
            }
            names = labels;
        }
        ClassificationHead head = new ClassificationHead(ClassificationHead.Task.SEQUENCE, pooling, c.hiddenSize(), names,
                headDropout, seed);
        return new TaskModel(model, adapter, task, head, headDropout);
    }

    /** How sequence heads pool by default: mean over tokens for encoders (as MiniLM was trained), the last token for decoders. */
    public static Pooling defaultPooling(ModelConfig config) {
        return config.architecture().isDecoder() ? Pooling.LAST : Pooling.MEAN;
    }

    /**
     * A task model for adapter {@code adapter} (already on {@code model}, e.g. through
     * {@link AdapterFiles#load}) with the head saved in {@code dir}.
     */
    public static TaskModel load(PeftModel model, String adapter, Path dir) throws IOException {
        Path configFile = dir.resolve(HEAD_CONFIG);
        if (!Files.isRegularFile(configFile)) throw new IOException(dir + ": no " + HEAD_CONFIG + "; was it saved by peft4j train?");
        JsonNode json;
        try {
            json = JSON.readTree(configFile.toFile());
        } catch (IOException e) {
            throw new IOException(configFile + ": not valid JSON: " + e.getMessage(), e);
        }
        TaskType task = parseTask(json.path("task").asText(), configFile);
        List<String> labels = new ArrayList<>();
        json.path("labels").forEach(l -> labels.add(l.asText()));
        Pooling pooling = json.has("pooling") ? Pooling.parse(json.get("pooling").asText()) : defaultPooling(model.config());
        if (json.has("hidden_size") && json.get("hidden_size").asInt() != model.config().hiddenSize()) {
            throw new IOException(configFile + ": head made for hidden size " + json.get("hidden_size").asInt()
                    + ", this model has " + model.config().hiddenSize());
        }
        TaskModel m;
        try {
            m = create(model, adapter, task, labels, pooling, json.path("dropout").asDouble(DEFAULT_HEAD_DROPOUT), 0);
        } catch (IllegalArgumentException e) {
            throw new IOException(configFile + ": " + e.getMessage(), e);
        }
        m.restoreHead(dir);
        return m;
    }

    public PeftModel peft() { return model; }

    /**
     * Keeps the adapter as it is and trains only the head over it: a linear probe of what a trained
     * adapter carries for this task. The adapter still runs and is saved with the head.
     */
    public TaskModel freezeAdapter() {
        model.train();
        return this;
    }

    /** The adapter this model activates and trains; null when only the head trains. */
    public String adapterName() { return adapter; }

    public TaskType task() { return task; }

    /** The classification/regression head; null for causal language modelling. */
    public ClassificationHead head() { return head; }

    /** Class names (classification), {@code [value]} (regression), empty (causal LM). */
    public List<String> labels() { return head == null ? List.of() : head.labels(); }

    /** Switches dropout on (training) or off (evaluation) in the model, its adapters and the head. */
    public void trainMode(boolean training) {
        model.trainMode(training);
        if (head != null) head.train(training);
    }

    public boolean isTraining() { return model.base().isTraining(); }

    /**
     * What trains, by name: the adapter's tensors under their model names and the head's under
     * {@code head.}; each tensor once even if the model reaches it by two names (tied weights).
     */
    public Map<String, Tensor> trainableParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
            if (e.getValue().requiresGrad() && seen.add(e.getValue())) out.put(e.getKey(), e.getValue());
        }
        if (head != null) head.namedParameters().forEach((n, t) -> out.put(HEAD_PREFIX + n, t));
        return out;
    }

    /** Elements of the trainable tensors. */
    public long trainableParameterCount() {
        long n = 0;
        for (Tensor t : trainableParameters().values()) n += t.numel();
        return n;
    }

    /** Elements of every distinct tensor: the base's, every adapter's and the head's. */
    public long totalParameterCount() {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        long n = 0;
        for (Tensor t : model.namedParameters().values()) if (seen.add(t)) n += t.numel();
        if (head != null) for (Tensor t : head.namedParameters().values()) n += t.numel();
        return n;
    }

    // ------------------------------------------------------------------ forward

    /**
     * The raw output: class logits [B, C] (classification), values [B] (regression) or LM logits
     * [B, T, V] over the batch's own positions (causal LM; virtual prompt tokens are cut off).
     *
     * @param rng draws the dropout masks while training; may be null in evaluation mode
     */
    public Tensor output(Batch batch, RandomGenerator rng) {
        if (task == TaskType.CAUSAL_LM) {
            Tensor logits = model.logits(batch.inputIds(), batch.attentionMask(), rng);
            int virtual = logits.size(1) - batch.length();
            return virtual > 0 ? logits.narrow(1, virtual, batch.length()) : logits;
        }
        Tensor hidden = model.encode(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), rng);
        Tensor logits = head.forward(hidden, batch.attentionMask(), new ForwardState(null, null, head.isTraining(), rng));
        return task == TaskType.REGRESSION ? logits.reshape(batch.size()) : logits;
    }

    /**
     * The mean loss of the batch: cross-entropy over examples (classification), squared error over
     * examples (regression) or cross-entropy over predicted tokens (causal LM).
     */
    public Tensor loss(Batch batch, RandomGenerator rng) {
        if (batch.labels() == null) throw new IllegalArgumentException("the batch has no labels; a loss needs targets");
        return loss(output(batch, rng), batch);
    }

    /** {@link #loss(Batch, RandomGenerator)} of an output already computed by {@link #output}. */
    Tensor loss(Tensor output, Batch batch) {
        return switch (task) {
            case CLASSIFICATION -> CrossEntropy.loss(output, batch.labels());
            case REGRESSION -> Losses.mse(output, batch.labels().to(output.computeType()));
            case CAUSAL_LM -> CrossEntropy.causalLm(output, batch.labels());
        };
    }

    /**
     * The term training adds to the loss once per optimizer step beyond the task's, or null when there
     * is none: AdapterFusion's value regularisation while a fusion with {@code regularization} trains
     * (AdapterHub adds it the same way, outside the task loss).
     */
    public Tensor regularization() {
        if (!fusion) return null;
        Tensor r = FusionMethod.regularizationLoss(model);
        return r.requiresGrad() ? r : null;
    }

    /**
     * Sets the clocks of step-dependent schedules inside the adapters (AdapterFusion's temperature) to
     * {@code forwards} training forwards, so a resumed run continues them where the killed one was.
     */
    public void setTrainingForwards(long forwards) {
        if (fusion) FusionMethod.setAllSteps(model, forwards);
    }

    /** What the batch's mean loss averages over: its examples, or for causal LM its predicted tokens. */
    public long targetCount(Batch batch) {
        if (task != TaskType.CAUSAL_LM) return batch.size();
        long[] labels = batch.labels().toLongArray();
        int t = batch.length();
        long n = 0;
        for (int i = 0; i < labels.length; i++) {
            if (i % t != 0 && labels[i] != CrossEntropy.DEFAULT_IGNORE_INDEX) n++;
        }
        return n;
    }

    /**
     * Predictions without dropout or gradients: class probabilities [B, C] (classification), values [B]
     * (regression), or the next-token distribution after each row's last real token [B, V] (causal LM).
     */
    public Tensor predict(Batch batch) {
        boolean wasTraining = isTraining();
        trainMode(false);
        try (var scope = GradMode.noGrad()) {
            Tensor out = output(batch, null);
            return switch (task) {
                case CLASSIFICATION -> Softmax.softmax(out, -1);
                case REGRESSION -> out;
                case CAUSAL_LM -> Softmax.softmax(Pooling.LAST.pool(out, batch.attentionMask()), -1);
            };
        } finally {
            trainMode(wasTraining);
        }
    }

    // ------------------------------------------------------------------ files

    /**
     * Writes the adapter (peft4j's format) and the head into {@code dir}, replacing the whole folder at
     * once; {@code extra} adds files (e.g. metrics) to the same folder.
     */
    public void save(Path dir, AtomicFolder.Writer extra) throws IOException {
        AtomicFolder.write(dir, staging -> {
            writeFiles(staging);
            if (extra != null) extra.writeInto(staging);
        });
    }

    /** Writes the adapter and head files into {@code dir}, which must not exist yet or be empty. */
    void writeFiles(Path dir) throws IOException {
        if (adapter != null) AdapterFiles.save(model, adapter, dir);
        Files.createDirectories(dir);
        saveHead(dir);
    }

    /** Writes {@value #HEAD_CONFIG} and (when there is a head) {@value #HEAD_WEIGHTS} into {@code dir}. */
    public void saveHead(Path dir) throws IOException {
        ObjectNode json = JSON.createObjectNode();
        json.put("peft4j_version", AdapterFiles.VERSION);
        json.put("task", task.name().toLowerCase(Locale.ROOT));
        if (head != null) {
            json.put("pooling", head.pooling().name().toLowerCase(Locale.ROOT));
            json.put("hidden_size", model.config().hiddenSize());
            json.put("dropout", headDropout);
            json.putPOJO("labels", head.labels());
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            head.namedParameters().forEach((n, t) -> tensors.put(n, t.dtype() == DType.F32 ? t : t.detachedCopy(DType.F32)));
            Safetensors.write(dir.resolve(HEAD_WEIGHTS), tensors, Map.of("format", "pt"));
        }
        AtomicFiles.writeString(dir.resolve(HEAD_CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
    }

    /**
     * Sets the adapter's and the head's tensors from a folder written by {@link #save} for this same
     * model (a checkpoint), after checking that the folder has exactly the tensors this model trains.
     */
    public void restore(Path dir) throws IOException {
        if (adapter != null) {
            Path file = dir.resolve("adapter.safetensors");
            try (SafetensorsCheckpoint saved = SafetensorsCheckpoint.open(file)) {
                // methods that store tensors their own way (sparse patterns) take their entries first
                Map<String, Tensor> tensors = saved.tensors();
                for (org.peft4j.adapters.MethodConfig c : model.adapter(adapter).configs()) {
                    if (org.peft4j.adapters.MethodRegistry.method(c.method()) instanceof org.peft4j.adapters.formats.Peft4jFormatSupport f) {
                        tensors = f.fromFileTensors(model, adapter, c, tensors);
                    }
                }
                Map<String, Tensor> own = model.adapterParameters(adapter);
                checkSameNames(file, tensors.keySet(), own.keySet());
                for (Map.Entry<String, Tensor> e : tensors.entrySet()) model.assign(e.getKey(), e.getValue());
            }
        }
        restoreHead(dir);
    }

    private void restoreHead(Path dir) throws IOException {
        if (head == null) return;
        Path file = dir.resolve(HEAD_WEIGHTS);
        try (SafetensorsCheckpoint saved = SafetensorsCheckpoint.open(file)) {
            Map<String, Tensor> own = head.namedParameters();
            checkSameNames(file, saved.tensors().keySet(), own.keySet());
            for (Map.Entry<String, Tensor> e : saved.tensors().entrySet()) {
                Tensor target = own.get(e.getKey());
                if (!java.util.Arrays.equals(target.shape(), e.getValue().shape())) {
                    throw new IOException(file + ": tensor '" + e.getKey() + "' has shape " + java.util.Arrays.toString(e.getValue().shape())
                            + " but the head needs " + java.util.Arrays.toString(target.shape()) + " (labels " + head.labels() + ")");
                }
                target.copyFrom(e.getValue());
            }
        }
    }

    private static void checkSameNames(Path file, Set<String> saved, Set<String> expected) throws IOException {
        TreeSet<String> missing = new TreeSet<>(expected), extra = new TreeSet<>(saved);
        missing.removeAll(saved);
        extra.removeAll(expected);
        if (!missing.isEmpty() || !extra.isEmpty()) {
            throw new IOException(file + ": does not match the model" + (missing.isEmpty() ? "" : "; lacks " + missing)
                    + (extra.isEmpty() ? "" : "; has unknown " + extra));
        }
    }

    private static TaskType parseTask(String name, Path file) throws IOException {
        try {
            return TaskType.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": unknown task '" + name + "'; valid: classification, regression, causal_lm");
        }
    }
}
