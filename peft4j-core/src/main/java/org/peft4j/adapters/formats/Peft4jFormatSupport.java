package org.peft4j.adapters.formats;

import java.io.IOException;
import java.util.Map;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * Implemented by methods whose tensors peft4j's own format stores other than as the model tree holds
 * them; the others are saved and loaded as their tree tensors, unchanged. Sparse adapters use it to store
 * each projection's fixed sparsity pattern next to its kept weights.
 */
public interface Peft4jFormatSupport {
    /**
     * The tensors to save for adapter {@code adapterName}: {@code tensors} (every tensor of the adapter, by
     * tree name) with this method's entries re-encoded or completed. Refuses an adapter not ready to be saved.
     */
    Map<String, Tensor> toFileTensors(PeftModel model, String adapterName, MethodConfig config, Map<String, Tensor> tensors)
            throws IOException;

    /**
     * Called once the adapter is installed from its config, before its tensors are filled from the file:
     * shapes the installed adapter after the file (a sparsity pattern) and returns {@code fileTensors} (the
     * file's tensors under the tree names they load into, the adapter named {@code adapterName}) without
     * this method's extra entries, so that every remaining key names a tensor of the model.
     */
    Map<String, Tensor> fromFileTensors(PeftModel model, String adapterName, MethodConfig config, Map<String, Tensor> fileTensors)
            throws IOException;
}
