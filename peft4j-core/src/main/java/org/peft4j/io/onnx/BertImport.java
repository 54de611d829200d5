package org.peft4j.io.onnx;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.Map;
import org.peft4j.tensor.Tensor;

/**
 * BERT weights imported from an ONNX export, in Hugging Face's {@code BertModel} layout.
 *
 * @param tensors parameters by Hugging Face name ({@code encoder.layer.0.attention.self.query.weight}...),
 *     each a fresh contiguous F32 heap tensor; Linear weights are [out, in]
 * @param config the equivalent of the checkpoint's {@code config.json} (keys and value types as there)
 */
public record BertImport(Map<String, Tensor> tensors, Map<String, Object> config) {

    /** {@link #config()} as {@code config.json} text. */
    public String configJson() {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("config holds a value JSON cannot represent", e);
        }
    }
}
