package org.peft4j.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;
import org.peft4j.tokenizer.HfTokenizer;

/**
 * Turns examples into padded, tokenized {@link Batch}es.
 *
 * <p>Each batch is padded only to its own longest row (dynamic padding). For training, examples of
 * similar length are grouped so that little padding is computed: the examples are shuffled, cut into
 * chunks of {@value #BUCKET_BATCHES} batches, sorted by length within each chunk, cut into batches, and
 * the batches of all chunks shuffled. Length here is the text's character count (both texts for a pair),
 * capped where any text would be truncated anyway, so bucketing costs no tokenizer pass. Texts longer than
 * {@code maxLength * 8} characters are clipped to that before tokenizing, which saves work on long emails
 * and changes nothing for prose: that many characters make well over {@code maxLength} tokens. Everything
 * random derives from {@code java.util.Random(seed, epoch)}, whose sequence Java specifies exactly, so
 * the order is the same on every machine.
 */
public final class Batcher {
    /** Batches per length-sorting chunk: large enough to find similar lengths, small enough to stay random. */
    static final int BUCKET_BATCHES = 50;
    /**
     * Characters per token beyond which prose is truncated anyway (WordPiece and BPE tokens average 3-5
     * characters of English); texts are clipped there before tokenizing.
     */
    private static final int MAX_CHARS_PER_TOKEN = 8;
    /** The label of a position no loss is computed for (padding in causal-LM labels), as in PyTorch. */
    public static final long IGNORE_INDEX = -100;

    private final HfTokenizer tokenizer;
    private final int maxLength;
    private final int batchSize;

    /**
     * @param tokenizer the model's tokenizer
     * @param maxLength the most tokens per row (special tokens included); longer texts are truncated
     * @param batchSize the most rows per batch
     */
    public Batcher(HfTokenizer tokenizer, int maxLength, int batchSize) {
        if (maxLength < 1) throw new IllegalArgumentException("maxLength must be at least 1, got " + maxLength);
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.batchSize = batchSize;
    }

    public int maxLength() { return maxLength; }

    public int batchSize() { return batchSize; }

    /**
     * Training order: shuffled by ({@code seed}, {@code epoch}), grouped into buckets of similar length
     * (dynamic padding to each batch's longest). Every example appears exactly once; only the last batch
     * of the last chunk may be smaller than the batch size.
     */
    public List<Batch> trainBatches(Dataset d, long seed, int epoch) {
        List<List<Example>> groups = trainOrder(d, seed, epoch);
        List<Batch> batches = new ArrayList<>(groups.size());
        for (List<Example> group : groups) batches.add(batch(d, group));
        return batches;
    }

    /** Evaluation order: the dataset's order, in consecutive batches of the batch size. */
    public List<Batch> evalBatches(Dataset d) {
        List<Batch> batches = new ArrayList<>();
        List<Example> all = d.examples();
        for (int start = 0; start < all.size(); start += batchSize) {
            batches.add(batch(d, all.subList(start, Math.min(all.size(), start + batchSize))));
        }
        return batches;
    }

    /**
     * The training order's batches as example lists, without tokenizing (what {@link #trainBatches}
     * tokenizes); lets a trainer skip ahead cheaply, e.g. when resuming mid-epoch.
     */
    public List<List<Example>> trainOrder(Dataset d, long seed, int epoch) {
        List<Example> shuffled = new ArrayList<>(d.examples());
        Random random = new Random(mix(seed, epoch));
        shuffle(shuffled, random);
        int cap = maxLength * MAX_CHARS_PER_TOKEN;
        Comparator<Example> byLength = Comparator.comparingInt(e -> Math.min(cap, length(e)));
        int chunk = batchSize * BUCKET_BATCHES;
        List<List<Example>> groups = new ArrayList<>();
        for (int start = 0; start < shuffled.size(); start += chunk) {
            List<Example> part = new ArrayList<>(shuffled.subList(start, Math.min(shuffled.size(), start + chunk)));
            part.sort(byLength); // stable: ties keep their shuffled order
            for (int b = 0; b < part.size(); b += batchSize) {
                groups.add(List.copyOf(part.subList(b, Math.min(part.size(), b + batchSize))));
            }
        }
        shuffle(groups, random);
        return groups;
    }

    /**
     * Tokenizes {@code examples} of dataset {@code d} into one batch, in the given order. Labels follow
     * {@code d}'s task; they are null when no example carries one (texts to predict). Pairs and single
     * texts cannot be mixed in one batch.
     */
    public Batch batch(Dataset d, List<Example> examples) {
        if (examples.isEmpty()) throw new IllegalArgumentException(d.name() + ": a batch needs at least one example");
        Encoding enc = encode(d, examples);
        return new Batch(enc.inputIds(), enc.attentionMask(), enc.tokenTypeIds(), labels(d, examples, enc), List.copyOf(examples));
    }

    private Encoding encode(Dataset d, List<Example> examples) {
        boolean pairs = examples.get(0).isPair();
        List<String> first = new ArrayList<>(examples.size());
        List<String> second = new ArrayList<>(examples.size());
        for (Example e : examples) {
            if (e.isPair() != pairs) {
                throw new IllegalArgumentException(d.name() + ": example at line " + e.line() + (pairs ? " has no" : " has a")
                        + " second text, unlike line " + examples.get(0).line() + "; pairs and single texts cannot share a batch");
            }
            first.add(clip(e.text()));
            if (pairs) second.add(clip(e.textPair()));
        }
        return pairs ? tokenizer.encodePairs(first, second, maxLength) : tokenizer.encodeBatch(first, maxLength);
    }

    private static Tensor labels(Dataset d, List<Example> examples, Encoding enc) {
        int rows = examples.size();
        return switch (d.task()) {
            case CLASSIFICATION -> {
                if (examples.stream().allMatch(e -> e.label() == null)) yield null;
                long[] ids = new long[rows];
                for (int r = 0; r < rows; r++) {
                    Example e = examples.get(r);
                    if (e.label() == null) throw new IllegalArgumentException(d.name() + ": example at line " + e.line() + " has no label");
                    ids[r] = d.labelIndex(e.label());
                }
                yield Tensor.of(ids, rows);
            }
            case REGRESSION -> {
                if (examples.stream().allMatch(e -> Double.isNaN(e.value()))) yield null;
                float[] values = new float[rows];
                for (int r = 0; r < rows; r++) {
                    Example e = examples.get(r);
                    if (Double.isNaN(e.value())) throw new IllegalArgumentException(d.name() + ": example at line " + e.line() + " has no value");
                    values[r] = (float) e.value();
                }
                yield Tensor.of(values, rows);
            }
            case CAUSAL_LM -> {
                long[] ids = enc.inputIds().toLongArray();
                long[] mask = enc.attentionMask().toLongArray();
                for (int i = 0; i < ids.length; i++) {
                    if (mask[i] == 0) ids[i] = IGNORE_INDEX;
                }
                yield Tensor.of(ids, rows, enc.length());
            }
        };
    }

    /**
     * The start of {@code text} that holds more than {@code maxLength} tokens of any prose: the tokenizer
     * would truncate the rest anyway, and a long email need not be tokenized whole at every epoch.
     */
    private String clip(String text) {
        int cap = maxLength * MAX_CHARS_PER_TOKEN;
        if (text.length() <= cap) return text;
        return text.substring(0, Character.isHighSurrogate(text.charAt(cap - 1)) ? cap - 1 : cap);
    }

    private static int length(Example e) {
        return e.text().length() + (e.isPair() ? e.textPair().length() : 0);
    }

    /** One seed per (seed, epoch), so that consecutive epochs are unrelated shuffles. */
    static long mix(long seed, int epoch) {
        long z = seed + 0x9E3779B97F4A7C15L * (epoch + 1L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Fisher-Yates, written out so that the order depends on nothing but {@code random}'s sequence. */
    static <T> void shuffle(List<T> list, Random random) {
        for (int i = list.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            T t = list.get(i);
            list.set(i, list.get(j));
            list.set(j, t);
        }
    }
}
