package org.peft4j.io.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.tensor.Tensor;

/**
 * Imports a BERT encoder (BERT, MiniLM, bge, e5...) from the initializers of its ONNX export, under Hugging
 * Face {@code BertModel} parameter names, and synthesizes the matching {@code config.json}.
 *
 * <p>Initializers already named like Hugging Face parameters ({@code embeddings.LayerNorm.weight},
 * {@code encoder.layer.0.attention.self.query.bias}) keep their names. The exporter gives Linear weights
 * anonymous names ({@code onnx::MatMul_787}) because it pre-transposes them; those are named by following
 * the graph: the MatMul (or Gemm) that consumes the weight is named after the module
 * ({@code /encoder/layer.0/attention/self/query/MatMul} gives {@code encoder.layer.0.attention.self.query.weight}),
 * and the Add that follows it takes that module's named bias ({@code ...query.bias}); both routes must agree
 * where both exist. MatMul weights are stored [in, out] and are transposed to Linear's [out, in].
 */
public final class OnnxBertImport {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final Pattern PARAMETER_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.]*\\.(weight|bias)");
    private static final Pattern LAYER_KEY = Pattern.compile("encoder\\.layer\\.(\\d+)\\.");
    private static final String WORD_EMBEDDINGS = "embeddings.word_embeddings.weight";
    private static final String[] LAYER_LINEARS = {
        "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
        "intermediate.dense", "output.dense"};
    private static final String[] LAYER_NORMS = {"attention.output.LayerNorm", "output.LayerNorm"};
    /** BertConfig's defaults, used where the graph does not show the value. */
    private static final double DEFAULT_LAYER_NORM_EPS = 1e-12;
    private static final String DEFAULT_ACT = "gelu";

    private OnnxBertImport() {}

    /** Where a parameter comes from: the initializer, whether it is stored [in, out], and the evidence. */
    private record Source(OnnxTensor tensor, boolean transpose, String evidence) {}

    /**
     * Imports the model's weights and config. Fails, listing every problem at once, when a parameter of
     * the embeddings or of any layer is missing or has the wrong shape.
     *
     * <p>Sizes come from the tensor shapes, the number of heads from the attention scaling constant,
     * layer_norm_eps and hidden_act from the graph's LayerNorm and activation nodes (BertConfig's defaults,
     * 1e-12 and gelu, where the pattern is not recognised). What a graph cannot show is BertConfig's
     * default: dropout 0.1, initializer_range 0.02, pad_token_id 0, absolute position embeddings.
     */
    public static BertImport fromOnnx(OnnxModel model) throws OnnxFormatException {
        OnnxGraph graph = model.graph();
        Map<String, Source> sources = parameterSources(graph);
        String prefix = modelPrefix(sources.keySet());
        int layers = countLayers(sources.keySet(), prefix);
        int vocab = size(sources.get(prefix + WORD_EMBEDDINGS), 0);
        int hidden = size(sources.get(prefix + WORD_EMBEDDINGS), 1);
        int inter = size(sources.get(prefix + "encoder.layer.0.intermediate.dense.weight"), 0);
        int positions = size(sources.get(prefix + "embeddings.position_embeddings.weight"), 0);
        int typeVocab = size(sources.get(prefix + "embeddings.token_type_embeddings.weight"), 0);
        boolean pooler = sources.containsKey(prefix + "pooler.dense.weight") || sources.containsKey(prefix + "pooler.dense.bias");
        checkComplete(sources, expectedShapes(prefix, layers, hidden, inter, positions, typeVocab, vocab, pooler));
        int heads = hidden / headDim(graph, hidden);

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Source> e : sources.entrySet()) {
            tensors.put(e.getKey(), toHfTensor(e.getValue()));
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architectures", List.of("BertModel"));
        config.put("model_type", "bert");
        config.put("hidden_size", hidden);
        config.put("num_hidden_layers", layers);
        config.put("num_attention_heads", heads);
        config.put("intermediate_size", inter);
        config.put("hidden_act", activation(graph));
        config.put("hidden_dropout_prob", 0.1);
        config.put("attention_probs_dropout_prob", 0.1);
        config.put("max_position_embeddings", positions);
        config.put("type_vocab_size", typeVocab);
        config.put("initializer_range", 0.02);
        config.put("layer_norm_eps", layerNormEps(graph));
        config.put("pad_token_id", 0);
        config.put("position_embedding_type", "absolute");
        config.put("vocab_size", vocab);
        return new BertImport(tensors, config);
    }

    /**
     * The Hugging Face name given to each initializer that holds a parameter, keyed by its ONNX name. For
     * inspecting how an export was mapped; {@link #fromOnnx} uses the same mapping.
     */
    public static Map<String, String> parameterNames(OnnxGraph graph) throws OnnxFormatException {
        Map<String, String> names = new LinkedHashMap<>();
        for (Map.Entry<String, Source> e : parameterSources(graph).entrySet()) {
            names.put(e.getValue().tensor().name(), e.getKey());
        }
        return names;
    }

    private static Map<String, Source> parameterSources(OnnxGraph graph) throws OnnxFormatException {
        Map<String, Source> sources = new LinkedHashMap<>();
        for (OnnxTensor t : graph.initializers().values()) {
            OnnxDataType type = OnnxDataType.fromCode(t.dataType());
            if (type == null || type.dtype() == null || !type.dtype().isFloating()) continue;
            OnnxNode linear = linearConsumer(graph, t.name());
            boolean named = PARAMETER_NAME.matcher(t.name()).matches();
            if (!named && linear == null) continue; // a constant of the computation, not a parameter
            String hfName = named ? t.name() : linearWeightName(graph, t, linear);
            // A named tensor that other nodes also read (word embeddings tied to an LM head) keeps its layout.
            boolean onlyLinear = linear != null && (!named || graph.consumers(t.name()).size() == 1);
            boolean transpose = onlyLinear && storedInOut(linear);
            String evidence = linear != null ? linear.opType() + " " + linear.name() : "named initializer";
            Source previous = sources.put(hfName, new Source(t, transpose, evidence));
            if (previous != null) {
                throw new OnnxFormatException("initializers '" + previous.tensor().name() + "' and '" + t.name()
                        + "' both map to " + hfName);
            }
        }
        return sources;
    }

    /** The MatMul or Gemm that uses {@code name} as its weight (second input), or null. */
    private static OnnxNode linearConsumer(OnnxGraph graph, String name) throws OnnxFormatException {
        OnnxNode found = null;
        for (OnnxNode n : graph.consumers(name)) {
            boolean linear = (n.opType().equals("MatMul") || n.opType().equals("Gemm"))
                    && n.inputs().size() > 1 && n.inputs().get(1).equals(name);
            if (!linear) continue;
            if (found != null) {
                throw new OnnxFormatException("initializer '" + name + "' is the weight of two nodes: '" + found.name()
                        + "' and '" + n.name() + "'");
            }
            found = n;
        }
        return found;
    }

    /** MatMul computes x·W with W [in, out]; Gemm does too unless transB=1, which stores W [out, in]. */
    private static boolean storedInOut(OnnxNode linear) {
        if (linear.opType().equals("MatMul")) return true;
        OnnxAttribute transB = linear.attribute("transB");
        return transB == null || transB.asInt() == 0;
    }

    private static String linearWeightName(OnnxGraph graph, OnnxTensor weight, OnnxNode linear)
            throws OnnxFormatException {
        String fromNode = moduleFromNodeName(linear.name());
        String fromBias = moduleFromBias(graph, linear);
        if (fromNode != null && fromBias != null && !fromNode.equals(fromBias)) {
            throw new OnnxFormatException("initializer '" + weight.name() + "': node '" + linear.name()
                    + "' names module " + fromNode + " but its bias belongs to " + fromBias);
        }
        String module = fromNode != null ? fromNode : fromBias;
        if (module == null) {
            throw new OnnxFormatException("cannot tell which module initializer '" + weight.name() + "' belongs to: "
                    + linear.opType() + " node '" + linear.name() + "' has no module path and no named bias");
        }
        return module + ".weight";
    }

    /** {@code /encoder/layer.0/attention/self/query/MatMul} gives {@code encoder.layer.0.attention.self.query}. */
    private static String moduleFromNodeName(String nodeName) {
        if (!nodeName.startsWith("/")) return null;
        int last = nodeName.lastIndexOf('/');
        if (last <= 0) return null;
        return nodeName.substring(1, last).replace('/', '.');
    }

    /** The module of the named bias added to the linear node's output (its own input for Gemm), or null. */
    private static String moduleFromBias(OnnxGraph graph, OnnxNode linear) {
        List<String> candidates = new ArrayList<>();
        if (linear.opType().equals("Gemm") && linear.inputs().size() > 2) candidates.add(linear.inputs().get(2));
        for (OnnxNode add : graph.consumers(linear.outputs().getFirst())) {
            if (add.opType().equals("Add")) candidates.addAll(add.inputs());
        }
        for (String c : candidates) {
            if (c.endsWith(".bias") && graph.initializer(c) != null) return c.substring(0, c.length() - ".bias".length());
        }
        return null;
    }

    /** "" for a bare BertModel export, or a head model's prefix such as {@code bert.}. */
    private static String modelPrefix(Iterable<String> names) throws OnnxFormatException {
        for (String n : names) {
            if (n.endsWith(WORD_EMBEDDINGS)) return n.substring(0, n.length() - WORD_EMBEDDINGS.length());
        }
        throw new OnnxFormatException("no initializer holds the word embeddings (" + WORD_EMBEDDINGS
                + "): not a BERT export");
    }

    private static int countLayers(Iterable<String> names, String prefix) throws OnnxFormatException {
        int max = -1;
        for (String n : names) {
            if (!n.startsWith(prefix)) continue;
            Matcher m = LAYER_KEY.matcher(n.substring(prefix.length()));
            if (m.lookingAt()) max = Math.max(max, Integer.parseInt(m.group(1)));
        }
        if (max < 0) throw new OnnxFormatException("no encoder layer parameters (" + prefix + "encoder.layer.N.*) found");
        return max + 1;
    }

    private static Map<String, int[]> expectedShapes(String p, int layers, int hidden, int inter, int positions,
            int typeVocab, int vocab, boolean pooler) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put(p + WORD_EMBEDDINGS, new int[] {vocab, hidden});
        shapes.put(p + "embeddings.position_embeddings.weight", new int[] {positions, hidden});
        shapes.put(p + "embeddings.token_type_embeddings.weight", new int[] {typeVocab, hidden});
        shapes.put(p + "embeddings.LayerNorm.weight", new int[] {hidden});
        shapes.put(p + "embeddings.LayerNorm.bias", new int[] {hidden});
        for (int i = 0; i < layers; i++) {
            String l = p + "encoder.layer." + i + ".";
            for (String linear : LAYER_LINEARS) {
                int out = linear.equals("intermediate.dense") ? inter : hidden;
                int in = linear.equals("output.dense") ? inter : hidden;
                shapes.put(l + linear + ".weight", new int[] {out, in});
                shapes.put(l + linear + ".bias", new int[] {out});
            }
            for (String norm : LAYER_NORMS) {
                shapes.put(l + norm + ".weight", new int[] {hidden});
                shapes.put(l + norm + ".bias", new int[] {hidden});
            }
        }
        if (pooler) {
            shapes.put(p + "pooler.dense.weight", new int[] {hidden, hidden});
            shapes.put(p + "pooler.dense.bias", new int[] {hidden});
        }
        return shapes;
    }

    private static void checkComplete(Map<String, Source> sources, Map<String, int[]> expected)
            throws OnnxFormatException {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            Source s = sources.get(e.getKey());
            if (s == null) {
                problems.add("missing " + e.getKey());
            } else if (!Arrays.equals(hfShape(s), e.getValue())) {
                problems.add(e.getKey() + " has shape " + Arrays.toString(hfShape(s)) + " (from " + s.evidence()
                        + "), expected " + Arrays.toString(e.getValue()));
            }
        }
        if (!problems.isEmpty()) {
            throw new OnnxFormatException("the ONNX graph does not hold a complete BERT model: " + String.join("; ", problems));
        }
    }

    /** Dimension {@code axis} of a 2-d parameter after import, or -1 when it is absent or not 2-d (reported later). */
    private static int size(Source s, int axis) throws OnnxFormatException {
        if (s == null) return -1;
        int[] shape = hfShape(s);
        return shape.length == 2 ? shape[axis] : -1;
    }

    /** The shape after import: a transposed weight's dims reversed. */
    private static int[] hfShape(Source s) throws OnnxFormatException {
        int[] shape = s.tensor().shape();
        if (s.transpose()) {
            if (shape.length != 2) {
                throw new OnnxFormatException("linear weight '" + s.tensor().name() + "' has shape " + Arrays.toString(shape));
            }
            return new int[] {shape[1], shape[0]};
        }
        return shape;
    }

    /** A fresh contiguous F32 heap copy in Hugging Face layout. */
    private static Tensor toHfTensor(Source s) throws OnnxFormatException {
        OnnxTensor t = s.tensor();
        int n = Math.toIntExact(t.numel());
        float[] values;
        if (t.dataType() == OnnxDataType.FLOAT.code()) {
            values = new float[n];
            MemorySegment.copy(t.data(), LE_FLOAT, 0, values, 0, n);
        } else {
            values = t.toFloatArray();
        }
        int[] shape = t.shape();
        if (!s.transpose()) return Tensor.of(values, shape);
        int in = shape[0];
        int out = shape[1];
        float[] transposed = new float[n];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) transposed[o * in + i] = values[i * out + o];
        }
        return Tensor.of(transposed, out, in);
    }

    /**
     * The attention head size: the exporter divides the scores by the constant sqrt(head_dim) in
     * {@code .../layer.0/attention/self/Div}; fused exports carry {@code num_heads} on an Attention node.
     */
    private static int headDim(OnnxGraph graph, int hidden) throws OnnxFormatException {
        for (OnnxNode n : graph.nodes()) {
            OnnxAttribute numHeads = n.attribute("num_heads");
            if (n.opType().equals("Attention") && numHeads != null && numHeads.asInt() > 0) {
                return hidden / (int) numHeads.asInt();
            }
            if (!n.opType().equals("Div") || !n.name().contains("layer.0/attention/self/")) continue;
            Float scale = constantScalar(graph, n.inputs().get(1));
            if (scale == null) continue;
            long headDim = Math.round((double) scale * scale);
            if (headDim > 0 && hidden % headDim == 0 && Math.abs(Math.sqrt(headDim) - scale) < 1e-3) return (int) headDim;
        }
        throw new OnnxFormatException("cannot find the number of attention heads: no scaling Div in "
                + "layer.0/attention/self and no Attention node with num_heads");
    }

    /** The epsilon added to the variance in the embeddings' LayerNorm, or BertConfig's default. */
    private static double layerNormEps(OnnxGraph graph) {
        for (OnnxNode n : graph.nodes()) {
            if (!n.name().contains("embeddings/LayerNorm/")) continue;
            OnnxAttribute eps = n.attribute("epsilon");
            if (eps != null && eps.type() == OnnxAttribute.Type.FLOAT) return tidy(eps.asFloat());
            // x.pow(2).mean() + eps: an Add with one input from ReduceMean and the other a constant
            boolean afterVariance = n.opType().equals("Add") && n.inputs().stream().map(graph::producer)
                    .anyMatch(p -> p != null && p.opType().equals("ReduceMean"));
            if (!afterVariance) continue;
            for (String in : n.inputs()) {
                Float c = constantScalar(graph, in);
                if (c != null) return tidy(c);
            }
        }
        return DEFAULT_LAYER_NORM_EPS;
    }

    /** The hidden_act name for the nonlinearity found in layer 0's intermediate block. */
    private static String activation(OnnxGraph graph) {
        for (OnnxNode n : graph.nodes()) {
            if (!n.name().contains("layer.0/intermediate/")) continue;
            switch (n.opType()) {
                case "Erf", "Gelu", "BiasGelu" -> { return "gelu"; }
                case "Tanh", "FastGelu" -> { return "gelu_new"; }
                case "Sigmoid" -> { return "silu"; }
                case "Relu" -> { return "relu"; }
                default -> { }
            }
        }
        return DEFAULT_ACT;
    }

    /** The value of a one-element float constant (Constant node or initializer), or null. */
    private static Float constantScalar(OnnxGraph graph, String value) {
        OnnxTensor t = graph.initializer(value);
        OnnxNode producer = graph.producer(value);
        if (t == null && producer != null && producer.opType().equals("Constant")) {
            OnnxAttribute a = producer.attribute("value");
            if (a != null && a.type() == OnnxAttribute.Type.TENSOR) t = a.asTensor();
        }
        if (t == null || t.numel() != 1 || t.dataType() != OnnxDataType.FLOAT.code()) return null;
        return t.data().get(LE_FLOAT, 0);
    }

    /** The float's shortest decimal form as a double: 1e-12f becomes 1e-12 rather than 9.99999996e-13. */
    private static double tidy(float f) {
        return Double.parseDouble(Float.toString(f));
    }
}
