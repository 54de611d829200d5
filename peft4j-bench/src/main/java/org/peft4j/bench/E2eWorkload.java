package org.peft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.Safetensors;
import org.peft4j.models.ForwardState;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.models.heads.Pooling;
import org.peft4j.ops.CrossEntropy;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * What the end-to-end benchmark measures on the peft4j side: the built-in MiniLM wrapped in a
 * {@link PeftModel} with one adapter, a mean-pooling two-label {@link ClassificationHead}, AdamW over
 * the adapter's and the head's tensors, and one fixed batch of token ids. A training step is forward,
 * cross-entropy, backward and the optimizer update; inference is the forward to the logits without
 * autograd. Dropout is off on both sides, so that they compute the same function.
 */
final class E2eWorkload {
    static final String MODEL = "builtin:all-minilm-l6-v2";
    static final String ADAPTER = "bench";
    static final long SEED = 42;
    static final double LR = 1e-3;
    static final double WEIGHT_DECAY = 0.01;
    /** Name prefix of the head's tensors in the export (the head is not part of the model's tree). */
    static final String HEAD_PREFIX = "head.";
    /** The files the peer reads (see e2e_peer.py). */
    static final String CONFIG_FILE = "config.json";
    static final String TENSORS_FILE = "tensors.safetensors";

    /** The adapter specification of each benchmarked method. */
    static final Map<String, String> SPECS = specs();

    private final ModelConfig config;
    private final PeftModel model;
    private final ClassificationHead head;
    private final AdamW optimizer;
    /** Recycles each step's activations and gradients into the next. */
    private final Workspace workspace = new Workspace();
    private final Map<String, Tensor> trainable = new LinkedHashMap<>();
    private final String method;
    private final WeightStorage storage;
    private Tensor ids;
    private Tensor mask;
    private Tensor labels;

    private static Map<String, String> specs() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("seq_bn", "seq_bn");
        s.put("double_seq_bn", "double_seq_bn");
        s.put("lora", "lora[r=8,target_modules=query|value]");
        s.put("prefix_tuning_flat", "prefix_tuning_flat");
        s.put("bitfit", "bitfit");
        return s;
    }

    /** Loads the model in {@code storage}, adds {@code method}'s adapter and makes the batch [batch, seq]. */
    E2eWorkload(String method, WeightStorage storage, int batch, int seq) throws IOException {
        String spec = SPECS.get(method);
        if (spec == null) throw new IllegalArgumentException("unknown method '" + method + "'; benchmarked: " + SPECS.keySet());
        this.method = method;
        this.storage = storage;
        PretrainedModel pm = ModelSource.resolve(MODEL).load(storage);
        this.config = pm.config();
        this.model = new PeftModel(pm.model(), config);
        model.addAdapter(ADAPTER, spec, SEED);
        model.setActive(ADAPTER);
        model.train(ADAPTER);
        this.head = new ClassificationHead(ClassificationHead.Task.SEQUENCE, Pooling.MEAN, config.hiddenSize(),
                List.of("0", "1"), 0.0, SEED + 1);
        trainable.putAll(model.adapterParameters(ADAPTER));
        head.namedParameters().forEach((n, t) -> trainable.put(HEAD_PREFIX + n, t));
        this.optimizer = new AdamW(List.of(new ParamGroup(trainable, LR, WEIGHT_DECAY)));
        // Dropout off (modules in eval mode, gradients still flow): the peer must compute the same math
        // for the loss check, and two random generators cannot draw the same masks.
        model.trainMode(false);
        head.train(false);
        reshape(batch, seq, SEED);
    }

    String method() { return method; }

    int batch() { return ids.size(0); }

    int seq() { return ids.size(1); }

    long trainableElements() {
        return trainable.values().stream().mapToLong(Tensor::numel).sum();
    }

    /**
     * A new seeded batch [batch, seq] of ids drawn from the vocabulary (clear of the special tokens),
     * two-class labels, and a mask that pads the tail of every fourth row by a quarter, so the padding
     * paths of attention and pooling are part of what both sides compute.
     */
    void reshape(int batch, int seq, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        long[] idv = new long[batch * seq], maskv = new long[batch * seq], labelv = new long[batch];
        for (int b = 0; b < batch; b++) {
            int length = b % 4 == 3 ? seq - seq / 4 : seq;
            for (int t = 0; t < seq; t++) {
                boolean real = t < length;
                idv[b * seq + t] = real ? rng.nextInt(1000, config.vocabSize()) : 0;
                maskv[b * seq + t] = real ? 1 : 0;
            }
            labelv[b] = rng.nextInt(2);
        }
        ids = Tensor.of(idv, batch, seq);
        mask = Tensor.of(maskv, batch, seq);
        labels = Tensor.of(labelv, batch);
    }

    /** One training step; returns the loss before the update. */
    double trainStep() {
        try (Workspace.Scope step = workspace.open()) {
            Tensor loss = CrossEntropy.loss(logits(), labels);
            loss.backward();
            optimizer.step();
            optimizer.zeroGrad();
            return loss.item();
        }
    }

    /** The logits of the batch without autograd, copied out of the workspace. */
    Tensor infer() {
        try (GradMode.Scope s = GradMode.noGrad(); Workspace.Scope batch = workspace.open()) {
            return logits().detachedCopy(DType.F32);
        }
    }

    private Tensor logits() {
        Tensor hidden = model.encode(ids, mask, null, null);
        return head.forward(hidden, mask, new ForwardState(mask, null, false, null));
    }

    /**
     * Writes what the peer needs to build the same workload into {@code dir}: every tensor of the model
     * as stored (the peer widens bf16 exactly), the adapter's and head's current values, the batch, and
     * the sizes, method config and optimizer settings (see e2e_peer.py).
     */
    void export(Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.namedParameters());
        head.namedParameters().forEach((n, t) -> tensors.put(HEAD_PREFIX + n, t));
        tensors.put("batch.input_ids", ids);
        tensors.put("batch.attention_mask", mask);
        tensors.put("batch.labels", labels);
        Safetensors.write(dir.resolve(TENSORS_FILE), tensors);

        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        c.put("method", method);
        c.put("adapter", ADAPTER);
        c.put("storage", storage.name());
        c.put("hidden", config.hiddenSize());
        c.put("layers", config.numLayers());
        c.put("heads", config.numHeads());
        c.put("vocab", config.vocabSize());
        c.put("norm_eps", config.normEps());
        c.put("hidden_act", config.hiddenAct());
        List<MethodConfig> configs = model.adapter(ADAPTER).configs();
        if (configs.size() != 1) throw new IllegalStateException(method + ": the peer models single-method adapters, got " + configs);
        c.set("method_config", configs.get(0).toJson());
        ArrayNode names = c.putArray("trainable");
        trainable.keySet().forEach(names::add);
        ObjectNode opt = c.putObject("optimizer");
        opt.put("lr", LR);
        opt.put("weight_decay", WEIGHT_DECAY);
        opt.putArray("betas").add(optimizer.beta1()).add(optimizer.beta2());
        opt.put("eps", optimizer.eps());
        json.writeValue(dir.resolve(CONFIG_FILE).toFile(), c);
    }
}
