package org.peft4j.adapters.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.peft4j.adapters.TargetModules;
import org.peft4j.models.Architecture;

/**
 * AdapterHub's way of placing LoRA: by location rather than by module name. {@code selfattn_lora} wraps
 * the attention projections listed in {@code attn_matrices} (q, k, v), {@code intermediate_lora} and
 * {@code output_lora} the feed-forward modules AdapterHub calls so: BERT's {@code intermediate.dense} and
 * {@code output.dense}, Llama's {@code mlp.down_proj} and {@code mlp.up_proj}, GPT-2's {@code mlp.c_fc}
 * and {@code mlp.c_proj}.
 */
public record AdapterHubTargets(boolean selfattn, List<String> attnMatrices, boolean intermediate, boolean output) {
    public static final List<String> DEFAULT_MATRICES = List.of("q", "v");

    public AdapterHubTargets {
        attnMatrices = List.copyOf(attnMatrices);
        for (String m : attnMatrices) {
            if (!List.of("q", "k", "v").contains(m)) {
                throw new IllegalArgumentException("lora: attn_matrices entry '" + m + "' is not one of q, k, v");
            }
        }
        if (!(selfattn && !attnMatrices.isEmpty()) && !intermediate && !output) {
            throw new IllegalArgumentException("lora: no location to adapt (selfattn_lora with an empty attn_matrices, or "
                    + "selfattn_lora, intermediate_lora and output_lora all false)");
        }
    }

    /**
     * The modules of every architecture these locations name, as one regular expression over dotted
     * module names (the families' names never collide). GPT-2's attention is left out: AdapterHub adapts
     * its fused {@code c_attn} per q/k/v slice, which {@link #check} refuses.
     */
    public Pattern regex() {
        List<String> alternatives = new ArrayList<>();
        if (selfattn && !attnMatrices.isEmpty()) {
            List<String> bert = new ArrayList<>(), llama = new ArrayList<>();
            for (String m : attnMatrices) {
                bert.add(switch (m) { case "q" -> "query"; case "k" -> "key"; default -> "value"; });
                llama.add(m + "_proj");
            }
            alternatives.add("encoder\\.layer\\.\\d+\\.attention\\.self\\.(?:" + String.join("|", bert) + ")");
            alternatives.add("model\\.layers\\.\\d+\\.self_attn\\.(?:" + String.join("|", llama) + ")");
        }
        if (intermediate) {
            alternatives.add("encoder\\.layer\\.\\d+\\.intermediate\\.dense");
            alternatives.add("model\\.layers\\.\\d+\\.mlp\\.down_proj");
            alternatives.add("transformer\\.h\\.\\d+\\.mlp\\.c_fc");
        }
        if (output) {
            alternatives.add("encoder\\.layer\\.\\d+\\.output\\.dense");
            alternatives.add("model\\.layers\\.\\d+\\.mlp\\.up_proj");
            alternatives.add("transformer\\.h\\.\\d+\\.mlp\\.c_proj");
        }
        return Pattern.compile("(?:.*\\.)?(?:" + String.join("|", alternatives) + ")");
    }

    /** Refuses locations this architecture cannot take the AdapterHub way. */
    public void check(Architecture arch) {
        if (arch == Architecture.GPT2 && selfattn && !attnMatrices.isEmpty()) {
            throw new IllegalArgumentException("lora: AdapterHub's selfattn_lora on GPT-2 adapts slices of the fused c_attn, "
                    + "which peft4j does not support; use target_modules=c_attn (PEFT's LoRA) instead");
        }
    }

    /** The target modules these locations select, keeping {@code layers} and {@code exclude} of {@code base}. */
    public TargetModules targetModules(TargetModules base) {
        return new TargetModules(List.of(), regex(), false, base.layers(), base.exclude());
    }
}
