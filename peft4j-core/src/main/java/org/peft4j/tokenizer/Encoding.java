package org.peft4j.tokenizer;

import org.peft4j.tensor.Tensor;

/**
 * A tokenized batch, padded to its longest row: the three [batch, length] I64 inputs of a BERT-style model.
 *
 * @param inputIds token ids, padded with the tokenizer's pad id
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param tokenTypeIds segment ids: 0 for the first text, 1 for the second of a pair, 0 for padding unless
 *     the tokenizer says otherwise
 */
public record Encoding(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) {

    public int batchSize() { return inputIds.size(0); }

    /** The padded sequence length. */
    public int length() { return inputIds.size(1); }
}
