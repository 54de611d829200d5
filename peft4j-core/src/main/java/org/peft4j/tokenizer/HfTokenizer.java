package org.peft4j.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.util.PairList;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.peft4j.tensor.Tensor;

/**
 * A Hugging Face fast tokenizer ({@code tokenizer.json}) run by the Rust {@code tokenizers} library through
 * DJL, strictly offline (see {@link DjlOffline}).
 *
 * <p>Truncation and padding are peft4j's, not the file's: a {@code tokenizer.json} may carry its own
 * settings (all-MiniLM-L6-v2's pads every row to 128), which are switched off. Each call truncates to the
 * given {@code maxLength} (longest-first for pairs, special tokens included in the count, as transformers'
 * {@code truncation=True}) and pads to the longest row of the batch with the pad id. The native library
 * fixes the truncation length when a tokenizer instance is created, so one instance is kept per recently
 * used {@code maxLength}.
 *
 * <p>Thread-safe: calls are serialized (the library itself encodes a batch on several threads).
 */
public final class HfTokenizer implements AutoCloseable {
    /** Which end of a row padding goes to. */
    public enum PaddingSide { LEFT, RIGHT }

    private static final int CACHED_LENGTHS = 4;

    private final byte[] json;
    private final TokenizerSpec spec;
    private final HuggingFaceTokenizer untruncated;
    private final Map<Integer, HuggingFaceTokenizer> truncating = new LinkedHashMap<>(8, 0.75f, true);
    private boolean closed;

    private HfTokenizer(byte[] json, TokenizerSpec spec) throws IOException {
        this.json = json;
        this.spec = spec;
        this.untruncated = create(json, Map.of("truncation", "false"));
    }

    /**
     * Loads a tokenizer from a {@code tokenizer.json} file, or from a folder holding {@code tokenizer.json}
     * and optionally {@code tokenizer_config.json} (read for special token names, padding side and
     * clean_up_tokenization_spaces).
     */
    public static HfTokenizer fromFile(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path config = path.resolve("tokenizer_config.json");
            return fromJson(Files.readAllBytes(path.resolve("tokenizer.json")),
                    Files.exists(config) ? Files.readAllBytes(config) : null);
        }
        return fromJson(Files.readAllBytes(path), null);
    }

    /** Loads a tokenizer from a stream of {@code tokenizer.json} text (e.g. a class-path resource). */
    public static HfTokenizer fromStream(InputStream tokenizerJson) throws IOException {
        return fromJson(tokenizerJson.readAllBytes(), null);
    }

    /**
     * Loads a tokenizer from the bytes of {@code tokenizer.json} and, when not null, of
     * {@code tokenizer_config.json}.
     */
    public static HfTokenizer fromJson(byte[] tokenizerJson, byte[] tokenizerConfigJson) throws IOException {
        TokenizerSpec spec = TokenizerSpec.parse(tokenizerJson, tokenizerConfigJson);
        DjlOffline.configure();
        return new HfTokenizer(tokenizerJson.clone(), spec);
    }

    /**
     * Tokenizes each text with special tokens ({@code [CLS] text [SEP]} for BERT), truncated to
     * {@code maxLength} tokens, padded on the tokenizer's default side.
     */
    public Encoding encodeBatch(List<String> texts, int maxLength) {
        return encodeBatch(texts, maxLength, spec.paddingSide());
    }

    /** As {@link #encodeBatch(List, int)}, padding on {@code side}. */
    public Encoding encodeBatch(List<String> texts, int maxLength, PaddingSide side) {
        checkMaxLength(maxLength);
        String[] inputs = texts.toArray(String[]::new);
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i] == null) throw new IllegalArgumentException("text " + i + " is null");
        }
        ai.djl.huggingface.tokenizers.Encoding[] rows;
        synchronized (this) {
            rows = truncating(maxLength).batchEncode(inputs);
        }
        return pad(rows, maxLength, side);
    }

    /**
     * Tokenizes text pairs ({@code [CLS] a [SEP] b [SEP]} for BERT, token type 1 on the second part),
     * truncating the longer text first until each row fits {@code maxLength}.
     */
    public Encoding encodePairs(List<String> first, List<String> second, int maxLength) {
        return encodePairs(first, second, maxLength, spec.paddingSide());
    }

    /** As {@link #encodePairs(List, List, int)}, padding on {@code side}. */
    public Encoding encodePairs(List<String> first, List<String> second, int maxLength, PaddingSide side) {
        checkMaxLength(maxLength);
        if (first.size() != second.size()) {
            throw new IllegalArgumentException(first.size() + " first texts but " + second.size() + " second texts");
        }
        for (int i = 0; i < first.size(); i++) {
            if (first.get(i) == null || second.get(i) == null) throw new IllegalArgumentException("pair " + i + " has a null text");
        }
        ai.djl.huggingface.tokenizers.Encoding[] rows;
        synchronized (this) {
            rows = truncating(maxLength).batchEncode(new PairList<>(new ArrayList<>(first), new ArrayList<>(second)));
        }
        return pad(rows, maxLength, side);
    }

    /** The ids of one text with special tokens, not truncated (e.g. a generation prompt). */
    public long[] encode(String text) {
        return encode(text, true);
    }

    /** The ids of one text, with or without the special tokens the tokenizer adds, not truncated. */
    public synchronized long[] encode(String text, boolean addSpecialTokens) {
        ensureOpen();
        return untruncated.encode(text, addSpecialTokens, false).getIds();
    }

    /** Text for {@code ids}, special tokens included (as transformers' {@code decode} by default). */
    public String decode(long[] ids) {
        return decode(ids, false);
    }

    /**
     * Text for {@code ids}; {@code skipSpecialTokens} drops [CLS], [PAD] and the like. Spaces before
     * punctuation are cleaned up when tokenizer_config.json asks for it.
     */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        String text;
        synchronized (this) {
            ensureOpen();
            text = untruncated.decode(ids, skipSpecialTokens);
        }
        return spec.cleanUpSpaces() ? cleanUpSpaces(text) : text;
    }

    /** The number of token ids (the model's vocab_size for an unmodified tokenizer): highest id + 1. */
    public int vocabSize() { return spec.vocabSize(); }

    /** The id of a vocabulary or added token, if it is one. */
    public OptionalLong tokenId(String token) { return optional(spec.ids().get(token)); }

    public OptionalLong padTokenId() { return optional(spec.pad()); }

    public OptionalLong clsTokenId() { return optional(spec.cls()); }

    public OptionalLong sepTokenId() { return optional(spec.sep()); }

    public OptionalLong eosTokenId() { return optional(spec.eos()); }

    public OptionalLong bosTokenId() { return optional(spec.bos()); }

    public OptionalLong unkTokenId() { return optional(spec.unk()); }

    public OptionalLong maskTokenId() { return optional(spec.mask()); }

    /**
     * The id written into padding: the pad token, else (decoders such as GPT-2 and Llama have none) the
     * eos token, else 0. The attention mask hides it either way.
     */
    public long paddingId() {
        if (spec.pad() != null) return spec.pad();
        return spec.eos() != null ? spec.eos() : 0;
    }

    /** The side padding goes to unless a call says otherwise. */
    public PaddingSide paddingSide() { return spec.paddingSide(); }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        untruncated.close();
        truncating.values().forEach(HuggingFaceTokenizer::close);
        truncating.clear();
    }

    /** The instance truncating at {@code maxLength}, created on first use; the least recently used beyond a few is closed. */
    private HuggingFaceTokenizer truncating(int maxLength) {
        ensureOpen();
        HuggingFaceTokenizer t = truncating.get(maxLength);
        if (t != null) return t;
        String length = Integer.toString(maxLength);
        try {
            // modelMaxLength too: DJL silently lowers maxLength to it (default 512) otherwise.
            t = create(json, Map.of("truncation", "longest_first", "maxLength", length, "modelMaxLength", length));
        } catch (IOException e) {
            throw new IllegalStateException("tokenizer.json could not be loaded again", e);
        }
        truncating.put(maxLength, t);
        if (truncating.size() > CACHED_LENGTHS) {
            Integer eldest = truncating.keySet().iterator().next();
            truncating.remove(eldest).close();
        }
        return t;
    }

    /** A native tokenizer with special tokens, no padding, and the given truncation options. */
    private static HuggingFaceTokenizer create(byte[] json, Map<String, String> truncation) throws IOException {
        Map<String, String> options = new LinkedHashMap<>(truncation);
        options.put("addSpecialTokens", "true");
        options.put("padding", "false");
        return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options);
    }

    private Encoding pad(ai.djl.huggingface.tokenizers.Encoding[] rows, int maxLength, PaddingSide side) {
        int batch = rows.length;
        int length = 0;
        for (int r = 0; r < batch; r++) {
            int n = rows[r].getIds().length;
            if (n > maxLength) {
                throw new IllegalArgumentException("maxLength " + maxLength + " cannot hold row " + r
                        + ": the tokenizer's special tokens alone need more");
            }
            length = Math.max(length, n);
        }
        long[] ids = new long[batch * length];
        long[] mask = new long[batch * length];
        long[] types = new long[batch * length];
        Arrays.fill(ids, paddingId());
        Arrays.fill(types, spec.padTypeId());
        for (int r = 0; r < batch; r++) {
            long[] rowIds = rows[r].getIds();
            int start = r * length + (side == PaddingSide.LEFT ? length - rowIds.length : 0);
            System.arraycopy(rowIds, 0, ids, start, rowIds.length);
            System.arraycopy(rows[r].getAttentionMask(), 0, mask, start, rowIds.length);
            System.arraycopy(rows[r].getTypeIds(), 0, types, start, rowIds.length);
        }
        return new Encoding(Tensor.of(ids, batch, length), Tensor.of(mask, batch, length), Tensor.of(types, batch, length));
    }

    /** transformers' clean_up_tokenization: no space before punctuation and English contractions. */
    private static String cleanUpSpaces(String text) {
        return text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    private static void checkMaxLength(int maxLength) {
        if (maxLength < 1) throw new IllegalArgumentException("maxLength must be at least 1, got " + maxLength);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("tokenizer is closed");
    }

    private static OptionalLong optional(Long id) {
        return id == null ? OptionalLong.empty() : OptionalLong.of(id);
    }
}
