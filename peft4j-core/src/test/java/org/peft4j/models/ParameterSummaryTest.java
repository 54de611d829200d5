package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Sizing real models from their config.json alone, without any weights. */
class ParameterSummaryTest {
    /** bert-base-uncased's config.json as published. */
    private static final String BERT_BASE = """
            {
              "architectures": ["BertForMaskedLM"],
              "attention_probs_dropout_prob": 0.1,
              "gradient_checkpointing": false,
              "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1,
              "hidden_size": 768,
              "initializer_range": 0.02,
              "intermediate_size": 3072,
              "layer_norm_eps": 1e-12,
              "max_position_embeddings": 512,
              "model_type": "bert",
              "num_attention_heads": 12,
              "num_hidden_layers": 12,
              "pad_token_id": 0,
              "position_embedding_type": "absolute",
              "transformers_version": "4.6.0.dev0",
              "type_vocab_size": 2,
              "use_cache": true,
              "vocab_size": 30522
            }""";

    /** A Llama-2-7B-sized config (as meta-llama/Llama-2-7b-hf publishes it). */
    private static final String LLAMA_2_7B = """
            {
              "architectures": ["LlamaForCausalLM"],
              "bos_token_id": 1,
              "eos_token_id": 2,
              "hidden_act": "silu",
              "hidden_size": 4096,
              "initializer_range": 0.02,
              "intermediate_size": 11008,
              "max_position_embeddings": 4096,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 32,
              "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": null,
              "tie_word_embeddings": false,
              "torch_dtype": "float16",
              "transformers_version": "4.31.0.dev0",
              "use_cache": true,
              "vocab_size": 32000
            }""";

    @Test
    void bertBaseHas109482240Parameters() {
        ParameterSummary s = ParameterSummary.ofBase(ModelConfig.parse(BERT_BASE, "bert-base-uncased/config.json"));
        assertEquals(109_482_240L, s.total());
        assertEquals(0, s.trainable(), "the base model is frozen");
        assertEquals(768L * 768 + 768, s.groups().get("pooler")[0], "the pooler counts, as in BertModel");
        assertEquals(30522L * 768 + 512L * 768 + 2L * 768 + 2 * 768, s.groups().get("embeddings")[0]);
        assertGroupsAddUp(s);
    }

    @Test
    void llama2SevenBillionHas6738415616Parameters() {
        ParameterSummary s = ParameterSummary.ofBase(ModelConfig.parse(LLAMA_2_7B, "Llama-2-7b/config.json"));
        assertEquals(6_738_415_616L, s.total());
        assertEquals(32000L * 4096, s.groups().get("lm_head")[0], "untied: the head counts separately");
        assertEquals(32L * 4 * 4096 * 4096, s.groups().get("model.layers.*.self_attn")[0]);
        assertEquals(32L * 3 * 4096 * 11008, s.groups().get("model.layers.*.mlp")[0]);
        assertGroupsAddUp(s);
    }

    @Test
    void trainableExtrasAreCountedOnTop() {
        ModelConfig c = ModelConfig.parse(BERT_BASE, "bert-base");
        ParameterSummary s = ParameterSummary.of(ModelLoader.specs(c), List.of(new ParamSpec("classifier.weight", 2, 768),
                new ParamSpec("classifier.bias", 2)));
        assertEquals(109_482_240L + 1538, s.total());
        assertEquals(1538, s.trainable());
        assertEquals(1538, s.groups().get("classifier")[1]);
    }

    private static void assertGroupsAddUp(ParameterSummary s) {
        long sum = 0;
        for (long[] g : s.groups().values()) sum += g[0];
        assertEquals(s.total(), sum);
        assertTrue(s.groups().size() > 3);
    }
}
