package org.peft4j.data;

import java.util.List;
import org.peft4j.tensor.Tensor;

/**
 * One padded batch, ready for a model.
 *
 * @param inputIds token ids [B, T] I64, padded to the batch's longest row
 * @param attentionMask 1 for real tokens, 0 for padding [B, T] I64
 * @param tokenTypeIds segment ids [B, T] I64
 * @param labels the targets: I64 [B] class ids (classification), F32 [B] values (regression), or I64
 *     [B, T] token ids with -100 at padding (causal LM; the model shifts them by one itself, as
 *     transformers does). Null when the examples carry no targets (prediction).
 * @param examples the examples the rows came from, in row order
 */
public record Batch(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor labels, List<Example> examples) {

    /** The number of rows. */
    public int size() { return inputIds.size(0); }

    /** The padded length T. */
    public int length() { return inputIds.size(1); }

    /** The number of real (unpadded) tokens: the sum of the attention mask. */
    public long tokens() {
        long[] mask = attentionMask.toLongArray();
        long n = 0;
        for (long m : mask) n += m;
        return n;
    }
}
