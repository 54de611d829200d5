package org.peft4j.models.bert;

import org.peft4j.models.ModelConfig;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.models.Weights;

/** Word + position + token-type embeddings, then LayerNorm (and dropout). */
public final class BertEmbeddings extends Module {
    private final boolean roberta;
    private final int paddingIdx;
    private final double dropout;

    BertEmbeddings(ModelConfig c, Weights w, String p, double dropout) {
        this.roberta = !c.modelType().equals("bert");
        this.paddingIdx = c.padTokenId() == null ? 1 : c.padTokenId();
        this.dropout = dropout;
        registerModule("word_embeddings", new Embedding(w.get(p + "word_embeddings.weight")));
        registerModule("position_embeddings", new Embedding(w.get(p + "position_embeddings.weight")));
        registerModule("token_type_embeddings", new Embedding(w.get(p + "token_type_embeddings.weight")));
        registerModule("LayerNorm", new LayerNorm(w.get(p + "LayerNorm.weight"), w.get(p + "LayerNorm.bias"), c.normEps()));
    }

    Tensor forward(Tensor inputIds, Tensor tokenTypeIds, int pastLength, org.peft4j.models.ForwardState s) {
        Embedding words = child("word_embeddings");
        Embedding positions = child("position_embeddings");
        Embedding types = child("token_type_embeddings");
        int b = inputIds.size(0), t = inputIds.size(1);
        Tensor pos = positionIds(inputIds, pastLength);
        Tensor tt = tokenTypeIds != null ? tokenTypeIds : Tensor.zeros(DType.I64, b, t);
        Tensor x = Elementwise.add(Elementwise.add(words.forward(inputIds), positions.forward(pos)), types.forward(tt));
        LayerNorm ln = child("LayerNorm");
        return s.dropout(ln.forward(x), dropout);
    }

    /**
     * BERT numbers positions from the cache length on; RoBERTa counts only non-padding tokens and
     * starts after the padding index, padding itself sitting at the padding index.
     */
    private Tensor positionIds(Tensor ids, int past) {
        int b = ids.size(0), t = ids.size(1);
        long[] pos = new long[b * t];
        for (int i = 0; i < b; i++) {
            long count = 0;
            for (int j = 0; j < t; j++) {
                if (!roberta) {
                    pos[i * t + j] = past + j;
                } else if (ids.getLong(i, j) != paddingIdx) {
                    count++;
                    pos[i * t + j] = count + past + paddingIdx;
                } else {
                    pos[i * t + j] = paddingIdx;
                }
            }
        }
        return Tensor.of(pos, b, t);
    }
}
