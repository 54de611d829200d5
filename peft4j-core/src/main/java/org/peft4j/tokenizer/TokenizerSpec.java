package org.peft4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * What peft4j reads itself from {@code tokenizer.json} (and {@code tokenizer_config.json} when there is
 * one): the token-to-id table, the special tokens, padding and decoding preferences. Tokenization proper
 * is left to the Hugging Face library.
 */
record TokenizerSpec(Map<String, Long> ids, int vocabSize, Long cls, Long sep, Long pad, Long unk, Long bos, Long eos,
        Long mask, long padTypeId, HfTokenizer.PaddingSide paddingSide, boolean cleanUpSpaces) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Parses {@code tokenizerJson}; {@code configJson} (tokenizer_config.json, may be null) takes precedence
     * for special token names, padding side and clean_up_tokenization_spaces.
     */
    static TokenizerSpec parse(byte[] tokenizerJson, byte[] configJson) throws IOException {
        JsonNode root = JSON.readTree(tokenizerJson);
        if (root == null || !root.isObject() || !root.has("model")) {
            throw new IOException("not a tokenizer.json: no 'model' object");
        }
        JsonNode config = configJson == null ? null : JSON.readTree(configJson);
        Map<String, Long> ids = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                ids.put(e.getKey(), e.getValue().asLong());
            }
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], the id is the position
            for (int i = 0; i < vocab.size(); i++) ids.put(vocab.get(i).path(0).asText(), (long) i);
        } else {
            throw new IOException("tokenizer.json: model.vocab is neither an object nor an array");
        }
        for (JsonNode added : root.path("added_tokens")) {
            ids.put(added.path("content").asText(), added.path("id").asLong());
        }
        long maxId = -1;
        for (long id : ids.values()) maxId = Math.max(maxId, id);

        JsonNode padding = root.path("padding");
        JsonNode processor = root.path("post_processor");
        Long cls = special(ids, config, "cls_token", processorToken(processor, "cls"), "[CLS]");
        Long sep = special(ids, config, "sep_token", processorToken(processor, "sep"), "[SEP]");
        Long pad = special(ids, config, "pad_token", padding.path("pad_token").asText(null), "[PAD]", "<pad>");
        Long unk = special(ids, config, "unk_token", root.path("model").path("unk_token").asText(null), "[UNK]", "<unk>");
        Long bos = special(ids, config, "bos_token", null, "<s>", "<|begin_of_text|>");
        Long eos = special(ids, config, "eos_token", null, "</s>", "<|end_of_text|>", "<|endoftext|>");
        Long mask = special(ids, config, "mask_token", null, "[MASK]", "<mask>");

        String side = config != null && config.hasNonNull("padding_side")
                ? config.get("padding_side").asText() : padding.path("direction").asText("right");
        HfTokenizer.PaddingSide paddingSide = side.equalsIgnoreCase("left")
                ? HfTokenizer.PaddingSide.LEFT : HfTokenizer.PaddingSide.RIGHT;
        boolean cleanUp = config != null && config.path("clean_up_tokenization_spaces").asBoolean(false);
        return new TokenizerSpec(ids, Math.toIntExact(maxId + 1), cls, sep, pad, unk, bos, eos, mask,
                padding.path("pad_type_id").asLong(0), paddingSide, cleanUp);
    }

    /**
     * The id of a special token: named by tokenizer_config.json when it has the key (a null there means
     * the tokenizer has none), else by {@code declared} from tokenizer.json, else the first of the
     * conventional names that exists.
     */
    private static Long special(Map<String, Long> ids, JsonNode config, String key, String declared, String... conventional) {
        if (config != null && config.has(key)) {
            JsonNode v = config.get(key);
            String name = v.isObject() ? v.path("content").asText(null) : v.asText(null);
            return v.isNull() || name == null ? null : ids.get(name);
        }
        if (declared != null && ids.containsKey(declared)) return ids.get(declared);
        for (String name : conventional) {
            if (ids.containsKey(name)) return ids.get(name);
        }
        return null;
    }

    /** The cls or sep token of a BertProcessing/RobertaProcessing post-processor (possibly in a Sequence). */
    private static String processorToken(JsonNode processor, String which) {
        String type = processor.path("type").asText("");
        if (type.equals("BertProcessing") || type.equals("RobertaProcessing")) {
            return processor.path(which).path(0).asText(null);
        }
        for (JsonNode p : processor.path("processors")) {
            String found = processorToken(p, which);
            if (found != null) return found;
        }
        return null;
    }
}
