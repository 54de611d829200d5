package org.peft4j.nn;

import org.peft4j.tensor.Tensor;

/** A lookup table [num, dim]; forward takes integer ids of any shape. */
public class Embedding extends Module {
    public Embedding(Tensor weight) {
        registerParameter("weight", weight);
    }

    public Tensor weight() { return parameter("weight"); }

    public int numEmbeddings() { return weight().size(0); }

    public int dim() { return weight().size(1); }

    public Tensor forward(Tensor ids) { return org.peft4j.ops.Embedding.lookup(weight(), ids); }
}
