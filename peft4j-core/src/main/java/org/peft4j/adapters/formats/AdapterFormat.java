package org.peft4j.adapters.formats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The adapter folder formats peft4j reads, told apart by their {@code adapter_config.json}. */
public enum AdapterFormat {
    /** peft4j's own: {@code adapter_config.json} with {@code peft4j_version} and {@code methods}, {@code adapter.safetensors}. */
    PEFT4J,
    /** Hugging Face PEFT: {@code adapter_config.json} with {@code peft_type}, {@code adapter_model.safetensors}. */
    PEFT,
    /** AdapterHub {@code adapters}: {@code adapter_config.json} with a {@code config} object, {@code adapter.safetensors}. */
    ADAPTERHUB;

    static final ObjectMapper JSON = new ObjectMapper();

    /** The format of an adapter folder, or an error naming the folder and what it lacks. */
    public static AdapterFormat detect(Path dir) throws IOException {
        JsonNode config = readJson(dir.resolve("adapter_config.json"));
        if (config.has("peft4j_version")) return PEFT4J;
        if (config.has("peft_type")) return PEFT;
        if (config.has("config") && config.get("config").isObject()) return ADAPTERHUB;
        throw new IOException(dir.resolve("adapter_config.json") + ": neither a peft4j, a PEFT (peft_type) nor an AdapterHub (config) adapter");
    }

    /** Reads a JSON file, naming the file in every error. */
    public static JsonNode readJson(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": not found");
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new IOException(file + ": not a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }
}
