package org.peft4j.io.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class OnnxBertImportTest {
    private static OnnxModel miniLm;
    private static BertImport imported;

    @BeforeAll
    static void loadBuiltin() throws Exception {
        miniLm = BuiltinMiniLm.readOnnx();
        imported = OnnxBertImport.fromOnnx(miniLm);
    }

    // ---------------------------------------------------------------- the real all-MiniLM-L6-v2 export

    @Test
    void everyLayerIsPresentWithHuggingFaceShapes() {
        Map<String, Tensor> t = imported.tensors();
        assertEquals(5 + 6 * 16, t.size(), "embeddings + 16 per layer, no pooler in this export");
        assertShape(t, "embeddings.word_embeddings.weight", 30522, 384);
        assertShape(t, "embeddings.position_embeddings.weight", 512, 384);
        assertShape(t, "embeddings.token_type_embeddings.weight", 2, 384);
        assertShape(t, "embeddings.LayerNorm.weight", 384);
        assertShape(t, "embeddings.LayerNorm.bias", 384);
        for (int i = 0; i < 6; i++) {
            String l = "encoder.layer." + i + ".";
            for (String qkv : new String[] {"query", "key", "value"}) {
                assertShape(t, l + "attention.self." + qkv + ".weight", 384, 384);
                assertShape(t, l + "attention.self." + qkv + ".bias", 384);
            }
            assertShape(t, l + "attention.output.dense.weight", 384, 384);
            assertShape(t, l + "attention.output.dense.bias", 384);
            assertShape(t, l + "attention.output.LayerNorm.weight", 384);
            assertShape(t, l + "attention.output.LayerNorm.bias", 384);
            assertShape(t, l + "intermediate.dense.weight", 1536, 384);
            assertShape(t, l + "intermediate.dense.bias", 1536);
            assertShape(t, l + "output.dense.weight", 384, 1536);
            assertShape(t, l + "output.dense.bias", 384);
            assertShape(t, l + "output.LayerNorm.weight", 384);
            assertShape(t, l + "output.LayerNorm.bias", 384);
        }
        for (Tensor x : t.values()) {
            assertEquals(DType.F32, x.dtype());
            assertNotNull(x.heapFloats(), "contiguous heap F32");
        }
        assertFalse(t.containsKey("embeddings.position_ids"), "an index buffer, not a parameter");
    }

    @Test
    void anonymousMatMulWeightsMapThroughTheirNodes() throws Exception {
        Map<String, String> names = OnnxBertImport.parameterNames(miniLm.graph());
        assertEquals("encoder.layer.0.attention.self.query.weight", names.get("onnx::MatMul_787"));
        assertEquals("encoder.layer.0.intermediate.dense.weight", names.get("onnx::MatMul_798"));
        assertEquals("encoder.layer.0.output.dense.weight", names.get("onnx::MatMul_799"));
        assertEquals("encoder.layer.5.output.dense.weight", names.get("onnx::MatMul_864"));
        assertEquals("embeddings.LayerNorm.weight", names.get("embeddings.LayerNorm.weight"));
    }

    @Test
    void matMulWeightsAreTransposedToOutIn() throws Exception {
        // ONNX stores intermediate.dense as [in=384, out=1536]; Linear wants [out, in]
        OnnxTensor raw = miniLm.graph().initializer("onnx::MatMul_798");
        assertArrayEquals(new long[] {384, 1536}, raw.dims());
        Tensor rawT = raw.toTensor();
        Tensor w = imported.tensors().get("encoder.layer.0.intermediate.dense.weight");
        for (int[] io : new int[][] {{0, 0}, {7, 1000}, {383, 1535}, {200, 3}}) {
            assertEquals(rawT.get(io[0], io[1]), w.get(io[1], io[0]), "in " + io[0] + ", out " + io[1]);
        }
        Tensor q = imported.tensors().get("encoder.layer.3.attention.self.query.weight");
        Tensor rawQ = miniLm.graph().initializer("onnx::MatMul_826").toTensor();
        assertEquals(rawQ.get(5, 9), q.get(9, 5));
        assertTrue(rawQ.get(5, 9) != rawQ.get(9, 5), "the spot check would not notice a missing transpose");
    }

    @Test
    void namedTensorsAreCopiedAsTheyAre() throws Exception {
        Tensor raw = miniLm.graph().initializer("embeddings.word_embeddings.weight").toTensor();
        Tensor w = imported.tensors().get("embeddings.word_embeddings.weight");
        assertEquals(raw.get(7592, 17), w.get(7592, 17));
        assertEquals(raw.get(30521, 383), w.get(30521, 383));
    }

    @Test
    void configIsDerivedFromTheGraph() throws Exception {
        Map<String, Object> c = imported.config();
        assertEquals("bert", c.get("model_type"));
        assertEquals(384, c.get("hidden_size"));
        assertEquals(6, c.get("num_hidden_layers"));
        assertEquals(12, c.get("num_attention_heads"));
        assertEquals(1536, c.get("intermediate_size"));
        assertEquals(30522, c.get("vocab_size"));
        assertEquals(512, c.get("max_position_embeddings"));
        assertEquals(2, c.get("type_vocab_size"));
        assertEquals(1e-12, c.get("layer_norm_eps"));
        assertEquals("gelu", c.get("hidden_act"));
        JsonNode json = new ObjectMapper().readTree(imported.configJson());
        assertEquals(384, json.get("hidden_size").asInt());
        assertEquals(1e-12, json.get("layer_norm_eps").asDouble());
        assertEquals("BertModel", json.get("architectures").get(0).asText());
    }

    // ---------------------------------------------------------------- synthetic exports

    @Test
    void tinyExportImportsWithPathNamedNodes() throws Exception {
        BertImport b = OnnxBertImport.fromOnnx(tinyBert(true, Set.of(), null));
        assertEquals(5 + 2 * 16, b.tensors().size());
        assertEquals(2, b.config().get("num_hidden_layers"));
        assertEquals(2, b.config().get("num_attention_heads"));
        assertEquals(8, b.config().get("intermediate_size"));
        Tensor w = b.tensors().get("encoder.layer.1.intermediate.dense.weight");
        assertArrayEquals(new int[] {8, 4}, w.shape());
        // the initializer held value(in, out) at [in][out]
        assertEquals(weightValue(1, 4, 3, 5), w.get(5, 3), 0);
    }

    @Test
    void tinyExportConfigReadsEpsFromTheGraph() throws Exception {
        assertEquals(1e-7, OnnxBertImport.fromOnnx(tinyBert(true, Set.of(), null)).config().get("layer_norm_eps"));
    }

    @Test
    void unnamedNodesFallBackToTheirBias() throws Exception {
        OnnxModel m = tinyBert(false, Set.of(), null);
        Map<String, String> names = OnnxBertImport.parameterNames(m.graph());
        assertEquals("encoder.layer.1.attention.self.value.weight", names.get("onnx::MatMul_1_2"));
        BertImport b = OnnxBertImport.fromOnnx(m);
        assertEquals(weightValue(0, 2, 1, 2), b.tensors().get("encoder.layer.0.attention.self.value.weight").get(2, 1), 0);
    }

    @Test
    void missingAndMisshapenTensorsAreAllListed() {
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxBertImport.fromOnnx(
                tinyBert(true, Set.of("encoder.layer.1.output.LayerNorm.bias", "onnx::MatMul_0_0"), null)));
        assertTrue(e.getMessage().contains("missing encoder.layer.1.output.LayerNorm.bias"), e.getMessage());
        assertTrue(e.getMessage().contains("missing encoder.layer.0.attention.self.query.weight"), e.getMessage());

        OnnxFormatException shape = assertThrows(OnnxFormatException.class, () -> OnnxBertImport.fromOnnx(
                tinyBert(true, Set.of(), "encoder.layer.0.output.LayerNorm.weight")));
        assertTrue(shape.getMessage().contains("encoder.layer.0.output.LayerNorm.weight has shape [5]"), shape.getMessage());
    }

    @Test
    void nodeNameAndBiasMustAgree() {
        OnnxFormatException e = assertThrows(OnnxFormatException.class,
                () -> OnnxBertImport.fromOnnx(tinyBert(true, Set.of(), "swap-bias")));
        assertTrue(e.getMessage().contains("but its bias belongs to"), e.getMessage());
    }

    @Test
    void notABertIsRejected() {
        byte[] bytes = ProtoWriter.model(new ProtoWriter().message(5, ProtoWriter.floatTensor("w", new float[] {1}, 1)));
        OnnxFormatException e = assertThrows(OnnxFormatException.class,
                () -> OnnxBertImport.fromOnnx(OnnxModel.parse(MemorySegment.ofArray(bytes))));
        assertTrue(e.getMessage().contains("not a BERT export"), e.getMessage());
    }

    private static void assertShape(Map<String, Tensor> tensors, String name, int... shape) {
        Tensor t = tensors.get(name);
        assertNotNull(t, name);
        assertArrayEquals(shape, t.shape(), name);
    }

    private static final String[] MODULES = {
        "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
        "intermediate.dense", "output.dense"};

    private static float weightValue(int layer, int module, int in, int out) {
        return layer * 100 + module * 10 + in + out * 0.01f;
    }

    /**
     * A 2-layer BERT export (hidden 4, 2 heads, FFN 8, vocab 10) shaped like torch's: named embeddings, biases
     * and norms, anonymous MatMul weights {@code onnx::MatMul_<layer>_<module>} stored [in, out]. With
     * {@code pathNames} the MatMul nodes carry module paths, else bare names. {@code drop} leaves initializers
     * out; {@code twist} either names a norm weight to give shape [5], or is "swap-bias" to feed layer 0's
     * query MatMul into the key bias.
     */
    private static OnnxModel tinyBert(boolean pathNames, Set<String> drop, String twist) throws OnnxFormatException {
        int h = 4;
        int inter = 8;
        ProtoWriter g = new ProtoWriter();
        Map<String, int[]> named = new LinkedHashMap<>();
        named.put("embeddings.word_embeddings.weight", new int[] {10, h});
        named.put("embeddings.position_embeddings.weight", new int[] {6, h});
        named.put("embeddings.token_type_embeddings.weight", new int[] {2, h});
        named.put("embeddings.LayerNorm.weight", new int[] {h});
        named.put("embeddings.LayerNorm.bias", new int[] {h});
        for (int layer = 0; layer < 2; layer++) {
            String l = "encoder.layer." + layer + ".";
            for (int m = 0; m < MODULES.length; m++) {
                int in = MODULES[m].equals("output.dense") ? inter : h;
                int out = MODULES[m].equals("intermediate.dense") ? inter : h;
                String weight = "onnx::MatMul_" + layer + "_" + m;
                if (!drop.contains(weight)) {
                    float[] v = new float[in * out];
                    for (int i = 0; i < in; i++) for (int o = 0; o < out; o++) v[i * out + o] = weightValue(layer, m, i, o);
                    g.message(5, ProtoWriter.floatTensor(weight, v, in, out));
                }
                String nodeName = pathNames ? "/" + (l + MODULES[m]).replace('.', '/') + "/MatMul" : "MatMul_" + layer + "_" + m;
                String product = "mm_" + layer + "_" + m;
                g.message(1, ProtoWriter.node(nodeName, "MatMul", new String[] {"hidden", weight}, product));
                String biasModule = "swap-bias".equals(twist) && layer == 0 && m == 0 ? MODULES[1] : MODULES[m];
                g.message(1, ProtoWriter.node("Add_" + layer + "_" + m, "Add", new String[] {l + biasModule + ".bias", product},
                        "sum_" + layer + "_" + m));
                named.put(l + MODULES[m] + ".bias", new int[] {out});
            }
            for (String norm : new String[] {"attention.output.LayerNorm", "output.LayerNorm"}) {
                named.put(l + norm + ".weight", new int[] {h});
                named.put(l + norm + ".bias", new int[] {h});
            }
        }
        for (Map.Entry<String, int[]> e : named.entrySet()) {
            if (drop.contains(e.getKey())) continue;
            int[] shape = e.getKey().equals(twist) ? new int[] {5} : e.getValue();
            long[] dims = Arrays.stream(shape).asLongStream().toArray();
            g.message(5, ProtoWriter.floatTensor(e.getKey(), new float[(int) Tensor.numel(shape)], dims));
        }
        // scores / sqrt(head_dim = 2), and the variance + eps of the embeddings' LayerNorm
        g.message(1, ProtoWriter.constant("/encoder/layer.0/attention/self/Constant_12", "scale", (float) Math.sqrt(2)));
        g.message(1, ProtoWriter.node("/encoder/layer.0/attention/self/Div", "Div", new String[] {"scores", "scale"}, "scaled"));
        g.message(1, ProtoWriter.node("/embeddings/LayerNorm/ReduceMean_1", "ReduceMean", new String[] {"sq"}, "var"));
        g.message(1, ProtoWriter.constant("/embeddings/LayerNorm/Constant_1", "eps", 1e-7f));
        g.message(1, ProtoWriter.node("/embeddings/LayerNorm/Add", "Add", new String[] {"var", "eps"}, "var_eps"));
        return OnnxModel.parse(MemorySegment.ofArray(ProtoWriter.model(g)));
    }

}
