package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.tensor.DType;
import org.peft4j.tokenizer.HfTokenizer;

class BatcherTest {
    private static final String[] WORDS = {"the", "ship", "sailed", "north", "whale", "sea", "captain", "storm", "night", "harpoon"};
    private static HfTokenizer tokenizer;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = BuiltinMiniLm.tokenizer();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /** {@code n} texts of 1 to 40 words in random order, labelled by parity of their index. */
    private static Dataset mixed(int n, TaskType task) {
        Random random = new Random(5);
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder text = new StringBuilder("item" + i);
            int words = 1 + random.nextInt(40);
            for (int w = 0; w < words; w++) text.append(' ').append(WORDS[random.nextInt(WORDS.length)]);
            examples.add(switch (task) {
                case CLASSIFICATION -> Example.labeled(text.toString(), i % 2 == 0 ? "even" : "odd");
                case REGRESSION -> Example.valued(text.toString(), i * 0.5);
                case CAUSAL_LM -> Example.plain(text.toString());
            });
        }
        return new Dataset("mixed", task, examples, task == TaskType.CLASSIFICATION ? List.of("odd", "even") : List.of());
    }

    private static int tokenCount(String text, int maxLength) {
        return Math.min(maxLength, tokenizer.encode(text).length);
    }

    @Test
    void evalBatchesKeepOrderAndPadToTheirLongestRow() {
        Dataset d = mixed(10, TaskType.CLASSIFICATION);
        List<Batch> batches = new Batcher(tokenizer, 24, 4).evalBatches(d);
        assertEquals(List.of(4, 4, 2), batches.stream().map(Batch::size).toList());
        int row = 0;
        for (Batch b : batches) {
            assertEquals(d.examples().subList(row, row + b.size()), b.examples());
            int longest = 0;
            long tokens = 0;
            long[] mask = b.attentionMask().toLongArray();
            for (int r = 0; r < b.size(); r++) {
                int n = tokenCount(b.examples().get(r).text(), 24);
                longest = Math.max(longest, n);
                tokens += n;
                long rowSum = 0;
                for (int t = 0; t < b.length(); t++) rowSum += mask[r * b.length() + t];
                assertEquals(n, rowSum, "row " + r);
            }
            assertEquals(longest, b.length(), "padded to the batch's longest row");
            assertEquals(tokens, b.tokens());
            assertEquals(DType.I64, b.inputIds().dtype());
            assertArrayEquals(new int[] {b.size(), b.length()}, b.tokenTypeIds().shape());
            row += b.size();
        }
    }

    @Test
    void classificationLabelsAreClassIds() {
        Dataset d = mixed(6, TaskType.CLASSIFICATION);
        Batch b = new Batcher(tokenizer, 16, 6).evalBatches(d).get(0);
        assertEquals(DType.I64, b.labels().dtype());
        assertArrayEquals(new long[] {0, 1, 0, 1, 0, 1}, b.labels().toLongArray()); // labels sorted: even=0, odd=1
    }

    @Test
    void regressionLabelsAreFloatValues() {
        Batch b = new Batcher(tokenizer, 16, 3).evalBatches(mixed(3, TaskType.REGRESSION)).get(0);
        assertEquals(DType.F32, b.labels().dtype());
        assertArrayEquals(new float[] {0f, 0.5f, 1f}, b.labels().toFloatArray());
    }

    @Test
    void causalLmLabelsAreIdsWithPaddingIgnored() {
        Batch b = new Batcher(tokenizer, 32, 5).evalBatches(mixed(5, TaskType.CAUSAL_LM)).get(0);
        long[] ids = b.inputIds().toLongArray();
        long[] mask = b.attentionMask().toLongArray();
        long[] labels = b.labels().toLongArray();
        assertArrayEquals(b.inputIds().shape(), b.labels().shape());
        boolean padded = false;
        for (int i = 0; i < ids.length; i++) {
            assertEquals(mask[i] == 1 ? ids[i] : Batcher.IGNORE_INDEX, labels[i], "position " + i);
            padded |= mask[i] == 0;
        }
        assertTrue(padded, "the sample should contain padding");
    }

    @Test
    void longTextsAreTruncatedToMaxLength() {
        String longText = "whale ".repeat(5000);
        Dataset d = new Dataset("long", TaskType.CLASSIFICATION, List.of(Example.labeled(longText, "x"), Example.labeled("short", "x")), List.of("x"));
        Batch b = new Batcher(tokenizer, 20, 2).evalBatches(d).get(0);
        assertEquals(20, b.length());
        assertEquals(20 + 3, b.tokens()); // [CLS] short [SEP]
    }

    @Test
    void pairsGetSecondSegmentTypeIds() {
        Dataset d = new Dataset("pairs", TaskType.CLASSIFICATION, List.of(
                new Example("a man sleeps", "a person rests", "yes", Double.NaN, 1),
                new Example("a cat", "a truck drives by", "no", Double.NaN, 2)), List.of("no", "yes"));
        Batch b = new Batcher(tokenizer, 32, 2).evalBatches(d).get(0);
        long ones = 0;
        for (long t : b.tokenTypeIds().toLongArray()) ones += t;
        assertEquals(4 + 5, ones, "second texts and their [SEP] have type 1");
        Dataset mixedPairs = new Dataset("m", TaskType.CLASSIFICATION, List.of(d.examples().get(0), Example.labeled("solo", "no")), List.of("no", "yes"));
        assertThrows(IllegalArgumentException.class, () -> new Batcher(tokenizer, 32, 2).evalBatches(mixedPairs));
    }

    @Test
    void unlabelledExamplesGiveNoLabels() {
        Dataset d = new Dataset("predict", TaskType.CLASSIFICATION, List.of(), List.of("ham", "spam"));
        Batch b = new Batcher(tokenizer, 16, 2).batch(d, List.of(new Example("free money", null, null, Double.NaN, 0)));
        assertNull(b.labels());
        assertEquals(1, b.size());
    }

    @Test
    void trainBatchesCoverEveryExampleOnceDeterministically() {
        Dataset d = mixed(203, TaskType.CLASSIFICATION);
        Batcher batcher = new Batcher(tokenizer, 64, 8);
        List<List<Example>> order = batcher.trainOrder(d, 11, 0);
        assertEquals(order, batcher.trainOrder(d, 11, 0));
        assertNotEquals(order, batcher.trainOrder(d, 11, 1));
        assertNotEquals(order, batcher.trainOrder(d, 12, 0));
        Set<String> seen = new HashSet<>();
        int small = 0;
        for (List<Example> batch : order) {
            for (Example e : batch) assertTrue(seen.add(e.text()));
            if (batch.size() < 8) small++;
        }
        assertEquals(203, seen.size());
        assertEquals(1, small, "only one batch short of the batch size");
        List<Batch> batches = batcher.trainBatches(d, 11, 0);
        assertEquals(order.size(), batches.size());
        for (int i = 0; i < order.size(); i++) assertEquals(order.get(i), batches.get(i).examples());
    }

    @Test
    void bucketingCutsPadding() {
        Dataset d = mixed(400, TaskType.CLASSIFICATION);
        Batcher batcher = new Batcher(tokenizer, 64, 8);
        double bucketed = paddingShare(batcher.trainBatches(d, 3, 0));
        double sequential = paddingShare(batcher.evalBatches(d));
        assertTrue(bucketed < 0.1, "bucketed padding share " + bucketed);
        assertTrue(sequential > 0.3, "unbucketed padding share " + sequential);
        // and the batch order is still shuffled: lengths do not just rise batch after batch
        List<Integer> lengths = batcher.trainBatches(d, 3, 0).stream().map(Batch::length).toList();
        assertNotEquals(lengths.stream().sorted().toList(), lengths);
    }

    private static double paddingShare(List<Batch> batches) {
        long cells = 0;
        long tokens = 0;
        for (Batch b : batches) {
            cells += (long) b.size() * b.length();
            tokens += b.tokens();
        }
        return 1 - (double) tokens / cells;
    }

    @Test
    void badSizesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Batcher(tokenizer, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> new Batcher(tokenizer, 16, 0));
    }
}
