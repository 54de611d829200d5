package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.adapters.integration.Harness.noGrad;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.prefix.PrefixTuning;
import org.peft4j.models.AdapterSite;
import org.peft4j.models.ForwardState;
import org.peft4j.models.KvCache;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.heads.ClassificationHead;
import org.peft4j.nn.LayerNorm;
import org.peft4j.ops.Elementwise;
import org.peft4j.optim.AdamW;
import org.peft4j.optim.ParamGroup;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;

/**
 * AdapterDrop ({@code context().setDropBelowLayer(k)}) on MiniLM (6 layers), k = 3: the layers below k run
 * without any adapter — linear-layer adapters, bottleneck sites and prefixes — at inference and in
 * training; the output equals that of the same adapter installed without those layers; and the autograd
 * graph never reaches below layer k, so backward stops there.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterDropTest {
    private static final int K = 3;
    private PretrainedModel pm;
    private PeftModel model;
    private Encoding batch;
    private Tensor baseOutput;

    @BeforeAll
    void load() throws Exception {
        pm = Harness.miniLm();
        model = new PeftModel(pm.model(), pm.config());
        batch = Harness.sentences();
        Harness.warmUp(model, batch);
        baseOutput = noGrad(() -> Harness.encode(model, batch));
    }

    @AfterAll
    void close() { pm.close(); }

    @AfterEach
    void reset() { Harness.reset(model); }

    /** Adds an adapter and gives every tensor random values, so that every part of it changes the output. */
    private Map<String, Tensor> addRandom(String name, String spec) {
        model.addAdapter(name, spec, 3);
        Random r = new Random(name.hashCode());
        Map<String, Tensor> params = model.adapterParameters(name);
        for (Tensor t : params.values()) for (long i = 0; i < t.numel(); i++) t.setFlat(i, t.getFlat(i) + 0.05 * r.nextGaussian());
        return params;
    }

    /** The layer a tensor belongs to ({@code encoder.layer.<i>.}), or -1 for model-level tensors. */
    private static int layerOf(String name) {
        int at = name.indexOf("encoder.layer.");
        if (at < 0) return -1;
        String rest = name.substring(at + "encoder.layer.".length());
        return Integer.parseInt(rest.substring(0, rest.indexOf('.')));
    }

    @Test
    void droppedLayersRunAsIfTheAdapterWereAbsent() {
        Map<String, Tensor> all = addRandom("all", "double_seq_bn|lora");
        model.addAdapter("upper", "double_seq_bn[leave_out=0|1|2]|lora[leave_out=0|1|2]", 3);
        // the same tensors, in the layers that "upper" has
        int copied = 0;
        for (Map.Entry<String, Tensor> e : model.adapterParameters("upper").entrySet()) {
            Tensor source = all.get(e.getKey().replace(".upper.", ".all.").replace(".upper", ".all"));
            assertNotNull(source, e.getKey());
            e.getValue().copyFrom(source);
            copied++;
        }
        assertTrue(copied > 0 && copied < all.size(), copied + " of " + all.size());
        model.setActive("upper");
        Tensor reference = noGrad(() -> Harness.encode(model, batch));

        model.setActive("all");
        Tensor full = noGrad(() -> Harness.encode(model, batch));
        model.context().setDropBelowLayer(K);
        Tensor dropped = noGrad(() -> Harness.encode(model, batch));
        Harness.assertSame(reference, dropped, "AdapterDrop below layer " + K);
        assertTrue(Harness.maxAbsDiff(full, dropped) > 1e-4, "the first layers' adapters should matter without AdapterDrop");
        model.context().setDropBelowLayer(model.config().numLayers());
        Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(model, batch)), "every layer dropped");
    }

    @Test
    void prefixesOfDroppedLayersAreNotAttended() {
        Tensor flat = addRandom("p", "prefix_tuning_flat[prefix_length=5]").values().iterator().next();
        model.setActive("p");
        model.context().setDropBelowLayer(K);
        Tensor dropped = noGrad(() -> Harness.encode(model, batch));

        // The same forward with the cache built by hand: no prefix in the dropped layers.
        PrefixTuning prefix = (PrefixTuning) model.extras().module(PrefixTuning.path("p"));
        Tensor byHand = noGrad(() -> {
            Tensor[][] kv = prefix.prefix(batch.batchSize());
            for (int l = 0; l < K; l++) kv[0][l] = kv[1][l] = null;
            KvCache cache = KvCache.ofPrefix(kv[0], kv[1], false);
            return ((BertModel) model.base()).forward(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), cache, null);
        });
        assertEquals(0.0, Harness.maxAbsDiff(dropped, byHand));

        // The dropped layers' prefixes do not matter; the kept ones do. Layout [P, L·2, H]: slot = 2·layer (+1 for values).
        int width = model.config().hiddenSize(), slots = 2 * model.config().numLayers();
        Tensor saved = flat.detachedCopy(DType.F32);
        for (long i = 0; i < flat.numel(); i++) if ((i / width) % slots < 2 * K) flat.setFlat(i, 3 * flat.getFlat(i) + 1);
        assertEquals(0.0, Harness.maxAbsDiff(dropped, noGrad(() -> Harness.encode(model, batch))), "a dropped layer read its prefix");
        flat.copyFrom(saved);
        for (long i = 0; i < flat.numel(); i++) if ((i / width) % slots == 2 * K) flat.setFlat(i, 3 * flat.getFlat(i) + 1);
        assertTrue(Harness.maxAbsDiff(dropped, noGrad(() -> Harness.encode(model, batch))) > 1e-4, "layer " + K + " ignored its prefix");
        flat.copyFrom(saved);

        // Gradients: exactly zero for the dropped layers' prefixes.
        model.train("p");
        ClassificationHead head = Harness.head(model, 2);
        Harness.classificationLoss(model, head, batch).backward();
        Tensor g = flat.grad();
        double dropped2 = 0, kept = 0;
        for (long i = 0; i < g.numel(); i++) {
            if ((i / width) % slots < 2 * K) dropped2 = Math.max(dropped2, Math.abs(g.getFlat(i)));
            else kept = Math.max(kept, Math.abs(g.getFlat(i)));
        }
        assertEquals(0.0, dropped2);
        assertTrue(kept > 0);

        model.context().setDropBelowLayer(model.config().numLayers());
        Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(model, batch)), "every layer dropped");
    }

    /** A site that only looks: records whether the residual stream entering its layer carries a gradient graph. */
    private static final class Probe extends AdapterSite {
        final List<Boolean> residualRecorded = new ArrayList<>();

        @Override
        public Tensor apply(Tensor h, Tensor residual, LayerNorm ln, ForwardState state) {
            residualRecorded.add(residual.requiresGrad() || residual.gradFn() != null);
            return ln == null ? Elementwise.add(residual, h) : ln.forward(h, residual);
        }
    }

    /** Installs a probe at the attention sublayer of {@code layer}, which sees that layer's input as its residual. */
    private Probe probe(int layer) {
        PeftModel.SiteRef ref = model.siteRef(layer, Location.ATTENTION);
        assertFalse(ref.owner().hasChild(ref.childName()), "the probe's place is taken");
        Probe p = new Probe();
        ref.owner().registerModule(ref.childName(), p);
        return p;
    }

    private void removeProbes() {
        for (int l = 0; l < model.config().numLayers(); l++) {
            PeftModel.SiteRef ref = model.siteRef(l, Location.ATTENTION);
            if (ref.owner().hasChild(ref.childName()) && ref.owner().child(ref.childName()) instanceof Probe) ref.owner().removeChild(ref.childName());
        }
    }

    @Test
    void trainingBackwardStopsAtTheFirstKeptLayer() {
        // every kind of place: bottleneck sites (FFN), adapted linear layers, prefixes with UniPELT's gates
        Map<String, Tensor> params = addRandom("t", "seq_bn[use_gating=true]|lora[use_gating=true]|prefix_tuning_flat[prefix_length=4,use_gating=true]");
        model.setActive("t");
        model.train("t");
        Probe embeddings = probe(0), below = probe(K - 1), first = probe(K);
        try {
            ClassificationHead head = Harness.head(model, 2);
            Map<String, Tensor> trained = new LinkedHashMap<>(params);
            head.namedParameters().forEach((n, t) -> trained.put("head." + n, t));
            Map<String, Tensor> before = new LinkedHashMap<>();
            params.forEach((n, t) -> before.put(n, t.detachedCopy(DType.F32)));

            // Without AdapterDrop the graph reaches the first layer's input.
            model.trainMode(true);
            Harness.classificationLoss(model, head, batch).backward();
            assertEquals(List.of(false), embeddings.residualRecorded, "the base embeddings' output is frozen");
            assertEquals(List.of(true), below.residualRecorded);
            assertEquals(List.of(true), first.residualRecorded);
            for (Tensor t : trained.values()) t.zeroGrad();

            model.context().setDropBelowLayer(K);
            AdamW opt = new AdamW(List.of(new ParamGroup(trained, 1e-2, 0.01)));
            for (int step = 0; step < 2; step++) {
                opt.zeroGrad();
                Harness.classificationLoss(model, head, batch).backward();
                opt.step();
            }
            model.trainMode(false);
            assertEquals(List.of(false, false, false), embeddings.residualRecorded);
            assertEquals(List.of(false, false), below.residualRecorded.subList(1, 3), "layer " + (K - 1) + " output has a gradient graph");
            assertEquals(List.of(false, false), first.residualRecorded.subList(1, 3), "layer " + K + " input has a gradient graph");

            int belowCount = 0, keptWithGrad = 0;
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                int layer = e.getKey().contains(".prefix_gates.") ? Integer.parseInt(e.getKey().replaceAll(".*\\.prefix_gates\\.(\\d+)\\..*", "$1"))
                        : layerOf(e.getKey());
                if (layer >= 0 && layer < K) {
                    belowCount++;
                    assertNull(e.getValue().grad(), e.getKey() + " is in a dropped layer but got a gradient");
                    assertEquals(0.0, Harness.maxAbsDiff(before.get(e.getKey()), e.getValue()), e.getKey() + " changed while dropped");
                } else if (e.getValue().grad() != null) {
                    keptWithGrad++;
                }
            }
            assertTrue(belowCount > 0 && keptWithGrad > 0, belowCount + " dropped, " + keptWithGrad + " trained");
        } finally {
            removeProbes();
        }
    }

    @Test
    void noAdapterIsLeftWhenEveryLayerIsDropped() {
        addRandom("u", "unipelt");
        model.setActive("u");
        model.context().setDropBelowLayer(model.config().numLayers());
        Harness.assertSame(baseOutput, noGrad(() -> Harness.encode(model, batch)), "unipelt, every layer dropped");
        model.train("u");
        assertFalse(Harness.encode(model, batch).requiresGrad(), "nothing trainable should take part");
    }
}
