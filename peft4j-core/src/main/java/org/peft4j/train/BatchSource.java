package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.data.Batch;
import org.peft4j.data.Batcher;
import org.peft4j.data.Dataset;
import org.peft4j.data.Example;

/**
 * Where a {@link Trainer} gets its batches: the order of each epoch as example groups (cheap, no
 * tokenizing, so a resumed run skips ahead for free) and the tensors of one group, made when it is
 * needed so that a large dataset is never held tokenized in memory.
 */
public interface BatchSource {
    /** The most examples per batch. */
    int batchSize();

    /** Epoch {@code epoch}'s training batches as example groups; the same arguments give the same order. */
    List<List<Example>> trainOrder(Dataset d, long seed, int epoch);

    /** The tensors of one group of {@code d}'s examples. */
    Batch batch(Dataset d, List<Example> examples);

    /** Evaluation batches: the dataset's order in consecutive groups of {@link #batchSize()}. */
    default List<List<Example>> evalOrder(Dataset d) {
        List<List<Example>> groups = new ArrayList<>();
        List<Example> all = d.examples();
        for (int start = 0; start < all.size(); start += batchSize()) {
            groups.add(all.subList(start, Math.min(all.size(), start + batchSize())));
        }
        return groups;
    }

    /** The tokenizing batcher of {@code org.peft4j.data} as a source. */
    static BatchSource of(Batcher batcher) {
        return new BatchSource() {
            @Override
            public int batchSize() { return batcher.batchSize(); }

            @Override
            public List<List<Example>> trainOrder(Dataset d, long seed, int epoch) { return batcher.trainOrder(d, seed, epoch); }

            @Override
            public Batch batch(Dataset d, List<Example> examples) { return batcher.batch(d, examples); }
        };
    }
}
