package org.peft4j.adapters.integration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.AdapterSummary;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.PeftModel;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.PretrainedModel;
import org.peft4j.tensor.Tensor;

/**
 * Trainable-parameter counts: the summary (from the config alone) on bert-base against the worked numbers
 * of DESIGN.md and the methods' definitions, and each method's declared shapes against the tensors it
 * actually installs on the tiny BERT fixture.
 */
class TrainableCountsTest {
    private static final ModelConfig BERT_BASE = ModelConfig.parse("""
            {"model_type": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2, "vocab_size": 30522}""", "bert-base");
    private static final int H = 768, F = 3072, L = 12;
    /** A bottleneck adapter's down and up projections with biases, hidden H, bottleneck m. */
    private static final long SEQ_BN = L * bottleneck(H / 16);
    /** AdapterHub's prefix MLP: wte [P, H], Linear(H → b), Linear(b → L·2·H). */
    private static final long PREFIX_MLP_30_512 = prefixMlp(30, 512), PREFIX_MLP_10_512 = prefixMlp(10, 512), PREFIX_MLP_30_800 = prefixMlp(30, 800);
    /** A gate Linear(H → 1). */
    private static final long GATE = H + 1;
    /** A LoRA r=8 branch on one H×H projection. */
    private static final long LORA_8 = 2L * 8 * H;
    /** Compacter's PHM projection in → out (n = 4, rank 1): Σ_i U_i [in/4, 1] V_i [1, out/4], plus the bias. */
    private static final long PHM_DOWN = 4L * (H / 4 + 24 / 4) + 24, PHM_UP = 4L * (24 / 4 + H / 4) + H;

    private static long bottleneck(int m) { return (long) H * m + m + (long) m * H + H; }

    private static long prefixMlp(int p, int b) { return (long) p * H + (long) H * b + b + (long) b * L * 2 * H + (long) L * 2 * H; }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = ';', value = {
        // DESIGN.md's worked counts
        "seq_bn; 894528",
        "lora[r=8,target_modules=query|value]; 294912",
        "prefix_tuning_flat[prefix_length=20]; 368640",
        "prefix[num_virtual_tokens=20]; 368640",
        // from the definitions
        "double_seq_bn; 1789056",
        "par_bn; 7091712",
        "scaled_par_bn; 7091724",
        "ia3; 64512",
        "bitfit; 102912",
        "compacter; 57088",
        "compacter++; 28576"})
    void bertBaseCounts(String spec, long expected) {
        assertEquals(expected, AdapterSummary.of(BERT_BASE, spec).trainable(), spec);
    }

    @org.junit.jupiter.api.Test
    void bertBaseCountsAgreeWithTheirDerivations() {
        assertEquals(894_528, SEQ_BN);
        assertEquals(2 * SEQ_BN, AdapterSummary.of(BERT_BASE, "double_seq_bn").trainable());
        assertEquals(L * bottleneck(H / 2), AdapterSummary.of(BERT_BASE, "par_bn").trainable());
        assertEquals(L * 2 * LORA_8, AdapterSummary.of(BERT_BASE, "lora[r=8,target_modules=query|value]").trainable());
        // PEFT's bert targets key, value, output.dense; "output.dense" also matches attention.output.dense (as PEFT
        // does: see fixtures/hf/bert/ia3), and as a feed-forward module each scales its input
        assertEquals(L * (2 * H + H + F), AdapterSummary.of(BERT_BASE, "ia3").trainable());
        // every bias: q, k, v, attention output, its LayerNorm, FFN in and out, output LayerNorm; the embeddings'
        // LayerNorm and the pooler
        assertEquals(H + L * (7L * H + F) + H, AdapterSummary.of(BERT_BASE, "bitfit").trainable());
        assertEquals(2L * L * (PHM_DOWN + PHM_UP) + 64, AdapterSummary.of(BERT_BASE, "compacter").trainable());
        assertEquals(PREFIX_MLP_30_512, AdapterSummary.of(BERT_BASE, "prefix_tuning").trainable());
        // MAM = prefix tuning (30, bottleneck 800) + par_bn
        assertEquals(PREFIX_MLP_30_800 + L * bottleneck(H / 2), AdapterSummary.of(BERT_BASE, "mam").trainable());
        // UniPELT = gated LoRA r=8 on q, v + gated prefix tuning (10, one shared gate per layer) + gated seq_bn
        long unipelt = L * 2 * (LORA_8 + GATE) + PREFIX_MLP_10_512 + L * GATE + SEQ_BN + L * GATE;
        assertEquals(unipelt, AdapterSummary.of(BERT_BASE, "unipelt").trainable());
    }

    @ParameterizedTest
    @ValueSource(strings = {"seq_bn", "double_seq_bn", "par_bn[mh_adapter=true]", "scaled_par_bn", "seq_bn[ln_before=true,ln_after=true,scaling=channel]",
        "compacter[reduction_factor=2]", "compacter++[reduction_factor=2,factorized_phm_W=false]", "bitfit", "bitfit[biases=query|intermediate]",
        "prefix_tuning[prefix_length=3,bottleneck_size=5]", "prefix_tuning_flat[prefix_length=3,use_gating=true,shared_gating=false]",
        "prefix[num_virtual_tokens=3]", "prefix[num_virtual_tokens=3,prefix_projection=true,encoder_hidden_size=6]", "lora", "lora[r=2,bias=lora_only]",
        "dora", "lora[r=4,use_gating=true]", "ia3", "ia3_adapterhub", "loha", "lokr", "sparse_bn", "mam", "unipelt"})
    void declaredShapesAreTheInstalledTensors(String spec) throws Exception {
        try (PretrainedModel pm = ModelLoader.load(Harness.hf("bert").resolve("base"))) {
            PeftModel model = new PeftModel(pm.model(), pm.config());
            model.addAdapter("x", spec, 1);
            Map<String, int[]> declared = new LinkedHashMap<>();
            for (MethodConfig c : MethodRegistry.parse(spec)) declared.putAll(MethodRegistry.method(c.method()).parameterShapes(model.shape(), "x", c));
            Map<String, Tensor> installed = model.adapterParameters("x");
            assertEquals(new java.util.TreeSet<>(declared.keySet()), new java.util.TreeSet<>(installed.keySet()), spec);
            long total = 0;
            for (Map.Entry<String, int[]> e : declared.entrySet()) {
                // a sparse adapter's kept weights: pruning scores the whole adapter at once, so how many each
                // projection keeps is known only after initialisation; their sum is fixed by the density
                if (!e.getKey().endsWith("weight_values")) assertArrayEquals(e.getValue(), installed.get(e.getKey()).shape(), spec + " " + e.getKey());
                total += installed.get(e.getKey()).numel();
            }
            assertEquals(total, AdapterSummary.of(pm.config(), spec).trainable(), spec + ": summary");
        }
    }
}
