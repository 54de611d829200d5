package org.peft4j.adapters.loha;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;

/**
 * LoHa (low-rank Hadamard product): {@code ΔW = (w1_a·w1_b) ⊙ (w2_a·w2_b) · α/r}, all the LyCORIS options of
 * {@link LycorisOptions} with PEFT's defaults, e.g. {@code loha[r=4,alpha=8,target_modules=query|value]}.
 */
public record LohaConfig(LycorisOptions options) implements MethodConfig {
    public static LohaConfig read(ConfigArgs args) { return new LohaConfig(LycorisOptions.read(args)); }

    @Override
    public String method() { return LohaMethod.NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        options.writeTo(json);
        return json;
    }
}
