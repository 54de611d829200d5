package org.peft4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.peft4j.adapters.PeftModel;
import org.peft4j.data.Batcher;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.train.TaskModel;

/**
 * A trained adapter with its head on its base model, ready to score texts: what {@code eval} and
 * {@code predict} work with.
 *
 * @param folder  where the adapter came from
 * @param source  the base model
 * @param task    the adapter and head, active, in evaluation mode
 * @param batcher tokenizes texts as training did (same token limit unless overridden)
 */
record AdapterSession(AdapterFolder folder, ModelSource source, PretrainedModel pretrained, TaskModel task, Batcher batcher)
        implements AutoCloseable {
    /** Batch size of evaluation and prediction when none is given. */
    static final int DEFAULT_BATCH_SIZE = 32;

    /**
     * Loads the adapter at {@code adapter} over {@code model} (null: the base model its run recorded),
     * telling {@code log} what was loaded.
     */
    static AdapterSession open(String model, Path adapter, Integer maxLength, int batchSize, WeightStorage storage,
                               PrintStream log) throws IOException {
        AdapterFolder folder = AdapterFolder.find(adapter);
        ModelSource source = ModelSource.resolve(folder.model(model));
        PretrainedModel pm = TrainJob.loadModel(source, storage, log);
        try {
            TaskModel task = folder.taskModel(new PeftModel(pm.model(), pm.config()));
            log.println("adapter  " + folder.dir() + (task.adapterName() == null ? " (head only)" : " ('" + task.adapterName() + "')")
                    + ", labels " + task.labels());
            return new AdapterSession(folder, source, pm, task, new Batcher(source.tokenizer(), folder.maxLength(maxLength), batchSize));
        } catch (IOException | RuntimeException e) {
            pm.close();
            throw e;
        }
    }

    @Override
    public void close() { pretrained.close(); }
}
