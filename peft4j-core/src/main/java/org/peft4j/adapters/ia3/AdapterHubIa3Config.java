package org.peft4j.adapters.ia3;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.loha.Jsons;

/**
 * AdapterHub's (IA)³ ({@code IA3Config}: a LoRA config with {@code composition_mode="scale"}, r = 1): a vector
 * {@code lora_B} [out, 1] times {@code alpha} multiplies the OUTPUT of each adapted layer. Placement as
 * AdapterHub: {@code selfattn_lora} adapts the self-attention projections named in {@code attn_matrices}
 * (q, k, v; default k and v), {@code intermediate_lora} (default on) the "intermediate" module (BERT
 * {@code intermediate.dense}, GPT-2 {@code mlp.c_fc}, Llama {@code mlp.down_proj}), {@code output_lora}
 * (default off) the "output" module (BERT {@code output.dense}, GPT-2 {@code mlp.c_proj}, Llama
 * {@code mlp.up_proj}); {@code leave_out} lists layers without the adapter. {@code init_weights}: ia3 (ones,
 * the model unchanged), lora (zeros), bert (normal, std 0.02). E.g. {@code ia3_adapterhub[attn_matrices=q|k|v]}.
 */
public record AdapterHubIa3Config(boolean selfattnLora, boolean intermediateLora, boolean outputLora, List<String> attnMatrices,
        double alpha, String initWeights, List<Integer> leaveOut) implements MethodConfig {

    public AdapterHubIa3Config {
        for (String m : attnMatrices) {
            if (!List.of("q", "k", "v").contains(m)) {
                throw new IllegalArgumentException(AdapterHubIa3Method.NAME + ": attn_matrices entry '" + m + "' must be q, k or v");
            }
        }
        attnMatrices = List.copyOf(attnMatrices);
        leaveOut = List.copyOf(leaveOut);
    }

    public static AdapterHubIa3Config read(ConfigArgs args) {
        List<String> matrices = args.has("attn_matrices") ? args.list("attn_matrices") : List.of("k", "v");
        List<Integer> leaveOut;
        try {
            leaveOut = args.list("leave_out").stream().map(Integer::parseInt).toList();
        } catch (NumberFormatException e) {
            throw args.bad("leave_out", args.string("leave_out", ""), "a list of layer indices");
        }
        return new AdapterHubIa3Config(args.bool("selfattn_lora", true), args.bool("intermediate_lora", true),
                args.bool("output_lora", false), matrices, args.number("alpha", 1), args.choice("init_weights", "ia3", "ia3", "lora", "bert"),
                leaveOut);
    }

    @Override
    public String method() { return AdapterHubIa3Method.NAME; }

    /** Every field under AdapterHub's names. */
    @Override
    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.put("alpha", alpha);
        Jsons.put(json, "attn_matrices", attnMatrices);
        json.put("init_weights", initWeights);
        json.put("intermediate_lora", intermediateLora);
        Jsons.put(json, "leave_out", leaveOut);
        json.put("output_lora", outputLora);
        json.put("selfattn_lora", selfattnLora);
        return json;
    }
}
