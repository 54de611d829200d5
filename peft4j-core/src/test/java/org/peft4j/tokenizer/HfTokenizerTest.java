package org.peft4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.io.onnx.BuiltinMiniLm;
import org.peft4j.tensor.DType;

class HfTokenizerTest {
    private static final List<URI> contacted = Collections.synchronizedList(new ArrayList<>());
    private static ProxySelector previous;
    private static HfTokenizer tok;

    /**
     * Every HTTP(S) connection the JDK opens asks the default ProxySelector first. This one records the
     * address and refuses, so nothing leaves the machine even if the offline switches failed.
     */
    @BeforeAll
    static void watchTheNetworkAndLoad() throws IOException {
        previous = ProxySelector.getDefault();
        ProxySelector.setDefault(new ProxySelector() {
            @Override
            public List<Proxy> select(URI uri) {
                contacted.add(uri);
                throw new IllegalStateException("network access attempted: " + uri);
            }

            @Override
            public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
        });
        tok = BuiltinMiniLm.tokenizer();
    }

    @AfterAll
    static void restore() {
        tok.close();
        ProxySelector.setDefault(previous);
    }

    @Test
    void staysOffline() throws IOException {
        tok.encodeBatch(List.of("offline?"), 16);
        try (HfTokenizer another = HfTokenizer.fromJson(BuiltinMiniLm.tokenizerJson(), null)) {
            another.encode("x");
        }
        assertEquals(List.of(), contacted);
        assertEquals("true", System.getProperty("ai.djl.offline"));
        assertEquals("true", System.getProperty("OPT_OUT_TRACKING"));
    }

    @Test
    void helloWorldMatchesBertBaseUncasedIds() {
        Encoding e = tok.encodeBatch(List.of("Hello world!"), 128);
        assertEquals(DType.I64, e.inputIds().dtype());
        assertArrayEquals(new int[] {1, 5}, e.inputIds().shape(), "padded to the batch, not to the file's fixed 128");
        assertArrayEquals(new long[] {101, 7592, 2088, 999, 102}, e.inputIds().toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 1, 1}, e.attentionMask().toLongArray());
        assertArrayEquals(new long[] {0, 0, 0, 0, 0}, e.tokenTypeIds().toLongArray());
        assertArrayEquals(new long[] {101, 7592, 2088, 999, 102}, tok.encode("Hello world!"));
        assertArrayEquals(new long[] {7592, 2088, 999}, tok.encode("Hello world!", false));
    }

    @Test
    void padsToTheLongestRowOfTheBatch() {
        Encoding e = tok.encodeBatch(List.of("hi", "Hello world!", ""), 64);
        assertEquals(3, e.batchSize());
        assertEquals(5, e.length());
        assertArrayEquals(new long[] {
            101, 7632, 102, 0, 0,
            101, 7592, 2088, 999, 102,
            101, 102, 0, 0, 0}, e.inputIds().toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, e.attentionMask().toLongArray());
    }

    @Test
    void padsOnTheLeftWhenAsked() {
        Encoding e = tok.encodeBatch(List.of("hi", "Hello world!"), 64, HfTokenizer.PaddingSide.LEFT);
        assertArrayEquals(new long[] {0, 0, 101, 7632, 102, 101, 7592, 2088, 999, 102}, e.inputIds().toLongArray());
        assertArrayEquals(new long[] {0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, e.attentionMask().toLongArray());
    }

    @Test
    void truncatesToMaxLengthKeepingSpecialTokens() {
        Encoding e = tok.encodeBatch(List.of("a much longer sentence that gets truncated here", "hi"), 6);
        assertArrayEquals(new int[] {2, 6}, e.inputIds().shape());
        assertArrayEquals(new long[] {101, 1037, 2172, 2936, 6251, 102, 101, 7632, 102, 0, 0, 0}, e.inputIds().toLongArray());
    }

    @Test
    void maxLengthAboveTheFilesDefaultsIsHonoured() {
        String text = "word ".repeat(600);
        assertEquals(602, tok.encode(text).length, "no truncation without a maxLength");
        assertEquals(600, tok.encodeBatch(List.of(text), 600).length(), "not lowered to 512 or to the file's 128");
        assertEquals(128, tok.encodeBatch(List.of(text), 128).length());
    }

    @Test
    void encodesPairsWithTokenTypes() {
        Encoding e = tok.encodePairs(List.of("Hello world!", "x"), List.of("how are you", "y"), 32);
        assertArrayEquals(new long[] {
            101, 7592, 2088, 999, 102, 2129, 2024, 2017, 102,
            101, 1060, 102, 1061, 102, 0, 0, 0, 0}, e.inputIds().toLongArray());
        assertArrayEquals(new long[] {0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0}, e.tokenTypeIds().toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, e.attentionMask().toLongArray());
    }

    @Test
    void pairsAreTruncatedLongestFirst() {
        Encoding e = tok.encodePairs(List.of("one two three four five six"), List.of("seven"), 7);
        // [CLS] + 3 + [SEP] + seven + [SEP]: the longer first text gives up tokens
        assertArrayEquals(new long[] {101, 2028, 2048, 2093, 102, 2698, 102}, e.inputIds().toLongArray());
        assertArrayEquals(new long[] {0, 0, 0, 0, 0, 1, 1}, e.tokenTypeIds().toLongArray());
    }

    @Test
    void tooShortMaxLengthAndBadInputsFail() {
        assertThrows(IllegalArgumentException.class, () -> tok.encodePairs(List.of("a b c"), List.of("d"), 2));
        assertThrows(IllegalArgumentException.class, () -> tok.encodeBatch(List.of("a"), 0));
        assertThrows(IllegalArgumentException.class, () -> tok.encodePairs(List.of("a"), List.of(), 8));
    }

    @Test
    void decodesBackToText() {
        long[] ids = tok.encode("Hello world!");
        assertEquals("hello world!", tok.decode(ids, true));
        assertEquals("[CLS] hello world! [SEP]", tok.decode(ids));
        assertEquals("it's a test.", tok.decode(tok.encode("It's a test."), true));
        Encoding e = tok.encodeBatch(List.of("short", "Tokenizers round-trip lowercase text."), 64);
        long[] row = new long[e.length()];
        for (int t = 0; t < row.length; t++) row[t] = e.inputIds().getLong(0, t);
        assertEquals("short", tok.decode(row, true), "padding is dropped with the special tokens");
        for (int t = 0; t < row.length; t++) row[t] = e.inputIds().getLong(1, t);
        assertEquals("tokenizers round - trip lowercase text.", tok.decode(row, true));
    }

    @Test
    void reportsVocabularyAndSpecialTokens() {
        assertEquals(30522, tok.vocabSize());
        assertEquals(OptionalLong.of(0), tok.padTokenId());
        assertEquals(OptionalLong.of(101), tok.clsTokenId());
        assertEquals(OptionalLong.of(102), tok.sepTokenId());
        assertEquals(OptionalLong.of(100), tok.unkTokenId());
        assertEquals(OptionalLong.of(103), tok.maskTokenId());
        assertEquals(OptionalLong.empty(), tok.eosTokenId());
        assertEquals(OptionalLong.empty(), tok.bosTokenId());
        assertEquals(OptionalLong.of(7592), tok.tokenId("hello"));
        assertEquals(0, tok.paddingId());
    }

    @Test
    void manyMaxLengthsStayCorrect() {
        for (int round = 0; round < 2; round++) {
            for (int max = 4; max <= 12; max++) {
                Encoding e = tok.encodeBatch(List.of("one two three four five six seven eight nine ten"), max);
                assertEquals(max, e.length());
                assertEquals(102, e.inputIds().getLong(0, max - 1));
            }
        }
    }

    @Test
    void readsAFolderWithTokenizerConfig(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("tokenizer.json"), BuiltinMiniLm.tokenizerJson());
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"padding_side": "left", "eos_token": {"content": "[SEP]"}, "bos_token": null,
                 "clean_up_tokenization_spaces": false}""", StandardCharsets.UTF_8);
        try (HfTokenizer t = HfTokenizer.fromFile(dir)) {
            assertEquals(HfTokenizer.PaddingSide.LEFT, t.paddingSide());
            assertEquals(OptionalLong.of(102), t.eosTokenId());
            assertEquals(OptionalLong.empty(), t.bosTokenId());
            assertEquals("it ' s a test.", t.decode(t.encode("It's a test."), true), "no clean-up asked for");
            assertArrayEquals(new long[] {0, 101, 7632, 102, 101, 7592, 2088, 102},
                    t.encodeBatch(List.of("hi", "Hello world"), 16).inputIds().toLongArray());
        }
        try (HfTokenizer plain = HfTokenizer.fromFile(dir.resolve("tokenizer.json"))) {
            assertEquals(HfTokenizer.PaddingSide.RIGHT, plain.paddingSide());
        }
    }

    @Test
    void aClosedTokenizerRefusesWork() throws IOException {
        HfTokenizer t = HfTokenizer.fromStream(BuiltinMiniLm.open(BuiltinMiniLm.TOKENIZER_RESOURCE));
        t.encodeBatch(List.of("a"), 8);
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, () -> t.encodeBatch(List.of("a"), 8));
        assertThrows(IllegalStateException.class, () -> t.decode(new long[] {101}));
    }

    @Test
    void notATokenizerJsonIsRejected() {
        IOException e = assertThrows(IOException.class, () -> HfTokenizer.fromJson("{\"a\": 1}".getBytes(), null));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
