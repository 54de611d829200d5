package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.heads.Pooling;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;
import org.peft4j.tokenizer.HfTokenizer;

/**
 * The embedded all-MiniLM-L6-v2, imported from the jar's ONNX export into our BertModel, computes what
 * ONNX Runtime computes from that same file: the last hidden state at every position (padding included:
 * BERT masks keys only, so a padding position's query still attends to the real tokens and both engines
 * compute it the same way) and the mean-pooled sentence embedding.
 */
class MiniLmOnnxRuntimeTest {
    private static final double TOL = 1e-4;
    private static final int BATCH = 8;

    /** Real English of varied length: short, long, punctuation, numbers, quotes, a non-ASCII word. */
    static final List<String> SENTENCES = List.of(
            "Hello!",
            "The cat sat on the mat.",
            "Is it going to rain tomorrow?",
            "Paris is the capital of France.",
            "I paid $12.50 for two coffees and a croissant at 7:45 this morning.",
            "Wait... what did you just say?!",
            "The quick brown fox jumps over the lazy dog.",
            "Parameter-efficient fine-tuning trains a small number of extra weights while the base model stays frozen.",
            "In 1969, Apollo 11 landed on the Moon, and Neil Armstrong became the first person to walk on its surface.",
            "She said, \"Don't forget your umbrella,\" but I forgot it anyway.",
            "Yes.",
            "The meeting has been moved from Tuesday, March 3rd, to Thursday, March 5th, at 2 p.m. in room 4B.",
            "Machine learning models can memorize their training data if they are large enough and trained for long.",
            "My phone number used to be 555-0199, but I changed it last year.",
            "Although the recipe calls for 250 grams of flour, 3 eggs and 100 ml of milk, I always add a pinch of salt"
                    + " and a little more sugar than it says, because my family likes the pancakes sweeter.",
            "Why do birds suddenly appear every time you are near?",
            "The café on the corner serves the best espresso in town.",
            "Error 404: the page you requested could not be found.",
            "He ran 42.195 kilometres in 2 hours, 1 minute and 9 seconds.",
            "Please close the door.",
            "Despite heavy traffic on the motorway and a flat tyre near the border, the delivery van reached the"
                    + " warehouse only twenty minutes late, which surprised everyone in the office.",
            "Water boils at 100 degrees Celsius at sea level.",
            "What a wonderful day; the sun is shining, the birds are singing, and the kids are playing outside!",
            "Good night.");

    private static PretrainedModel model;
    private static HfTokenizer tokenizer;
    private static OrtEnvironment env;
    private static OrtSession session;

    @BeforeAll
    static void load() throws Exception {
        model = ModelSource.resolve("builtin:all-minilm-l6-v2").load(ModelLoader.WeightStorage.AS_STORED);
        tokenizer = ModelSource.resolve("builtin:all-minilm-l6-v2").tokenizer();
        env = OrtEnvironment.getEnvironment();
        byte[] onnx;
        try (InputStream in = BuiltinMiniLm.open(BuiltinMiniLm.ONNX_RESOURCE)) {
            onnx = in.readAllBytes();
        }
        session = env.createSession(onnx, new OrtSession.SessionOptions());
    }

    @AfterAll
    static void close() throws Exception {
        if (session != null) session.close();
        if (tokenizer != null) tokenizer.close();
        if (model != null) model.close();
    }

    @Test
    void graphHasTheInputsAndOutputWeFeed() throws Exception {
        assertEquals(List.of("input_ids", "attention_mask", "token_type_ids").stream().sorted().toList(),
                session.getInputNames().stream().sorted().toList());
        assertEquals(List.of("last_hidden_state"), new ArrayList<>(session.getOutputNames()));
    }

    @Test
    void hiddenStatesAndMeanPooledEmbeddingsMatchOnnxRuntime() throws Exception {
        assertTrue(SENTENCES.size() >= 20);
        BertModel bert = (BertModel) model.model();
        boolean sawPadding = false;
        for (int start = 0; start < SENTENCES.size(); start += BATCH) {
            List<String> batch = SENTENCES.subList(start, Math.min(SENTENCES.size(), start + BATCH));
            Encoding enc = tokenizer.encodeBatch(batch, 256);
            int b = enc.batchSize(), t = enc.length();
            sawPadding |= enc.attentionMask().toLongArray().length != sum(enc.attentionMask().toLongArray());
            Tensor ours;
            try (var s = GradMode.noGrad()) {
                ours = bert.forward(enc.inputIds(), enc.attentionMask(), enc.tokenTypeIds(), null, null);
            }
            Tensor reference = runOrt(enc);
            assertArrayEquals(new int[] {b, t, 384}, ours.shape());
            assertArrayEquals(reference.shape(), ours.shape());
            double hiddenError = relError(ours, reference);
            assertTrue(hiddenError <= TOL, "sentences " + start + "..: last hidden state rel. error " + hiddenError);
            Tensor pooledOurs = Pooling.MEAN.pool(ours, enc.attentionMask());
            Tensor pooledRef = Pooling.MEAN.pool(reference, enc.attentionMask());
            double pooledError = relError(pooledOurs, pooledRef);
            assertTrue(pooledError <= TOL, "sentences " + start + "..: mean-pooled rel. error " + pooledError);
        }
        assertTrue(sawPadding, "the batches must contain padding");
    }

    /** ONNX Runtime's last_hidden_state for the batch, as a [B, T, H] tensor. */
    private static Tensor runOrt(Encoding enc) throws Exception {
        long[] shape = {enc.batchSize(), enc.length()};
        try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(enc.inputIds().toLongArray()), shape);
             OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(enc.attentionMask().toLongArray()), shape);
             OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(enc.tokenTypeIds().toLongArray()), shape);
             OrtSession.Result result = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                     "token_type_ids", types))) {
            OnnxTensor out = (OnnxTensor) result.get("last_hidden_state").orElseThrow();
            long[] dims = out.getInfo().getShape();
            FloatBuffer fb = out.getFloatBuffer();
            float[] values = new float[fb.remaining()];
            fb.get(values);
            return Tensor.of(values, (int) dims[0], (int) dims[1], (int) dims[2]);
        }
    }

    /** max|a - b| / max|b|, the fixtures' relative error. */
    static double relError(Tensor a, Tensor b) {
        double num = 0, den = 0;
        for (long i = 0, n = b.numel(); i < n; i++) {
            num = Math.max(num, Math.abs(a.getFlat(i) - b.getFlat(i)));
            den = Math.max(den, Math.abs(b.getFlat(i)));
        }
        return num / den;
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) s += x;
        return s;
    }
}
