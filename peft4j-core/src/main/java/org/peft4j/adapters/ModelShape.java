package org.peft4j.adapters;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ParamSpec;

/**
 * A model known only from its config: its parameter specs and linear modules. Methods compute their
 * trainable parameter shapes from it, so {@code summary --method} can size any model without weights.
 */
public record ModelShape(ModelConfig config, List<ParamSpec> parameters) {
    public static ModelShape of(ModelConfig config) { return new ModelShape(config, ModelLoader.specs(config)); }

    /**
     * Linear-like modules by dotted path → {out, in}: every 2-D {@code .weight} that is not an
     * embedding table (GPT-2's Conv1D weights are stored [in, out] and reported as {out, in}).
     */
    public Map<String, int[]> linearModules() {
        Map<String, int[]> out = new LinkedHashMap<>();
        boolean conv1d = config.architecture() == org.peft4j.models.Architecture.GPT2;
        for (ParamSpec s : parameters) {
            if (!s.name().endsWith(".weight") || s.shape().length != 2) continue;
            String module = s.name().substring(0, s.name().length() - ".weight".length());
            if (module.endsWith("embeddings") || module.endsWith("embed_tokens") || module.endsWith("wte") || module.endsWith("wpe")) continue;
            boolean transposed = conv1d && !module.equals("lm_head");
            out.put(module, transposed ? new int[] {s.shape()[1], s.shape()[0]} : s.shape());
        }
        return out;
    }
}
