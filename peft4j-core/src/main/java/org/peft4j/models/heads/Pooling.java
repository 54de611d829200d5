package org.peft4j.models.heads;

import org.peft4j.ops.Elementwise;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.Tensor;

/** How a sequence's hidden states [B, T, H] become one vector [B, H]. */
public enum Pooling {
    /** The first token ([CLS] / &lt;s&gt;), as BERT's classifiers use. */
    CLS,
    /** The mean over non-padding tokens, as sentence-transformers (all-MiniLM-L6-v2) use. */
    MEAN,
    /** The last non-padding token, as decoder classifiers use. */
    LAST;

    public Tensor pool(Tensor hidden, Tensor attentionMask) {
        int b = hidden.size(0), t = hidden.size(1), h = hidden.size(2);
        return switch (this) {
            case CLS -> hidden.narrow(1, 0, 1).reshape(b, h);
            case MEAN -> {
                Tensor mask = attentionMask.to(hidden.computeType()).reshape(b, t, 1);
                Tensor sum = Reductions.sum(Elementwise.mul(hidden, mask), 1, false);
                Tensor count = Reductions.sum(mask, 1, false);
                // clamp as sentence-transformers does so an all-padding row gives zeros, not NaN
                double[] c = count.toDoubleArray();
                for (int i = 0; i < c.length; i++) c[i] = 1.0 / Math.max(c[i], 1e-9);
                Tensor inv = Tensor.of(c, b, 1).to(hidden.computeType());
                yield Elementwise.mul(sum, inv);
            }
            case LAST -> {
                long[] idx = new long[b];
                for (int i = 0; i < b; i++) {
                    int last = 0;
                    for (int j = 0; j < t; j++) if (attentionMask.getFlat((long) i * t + j) != 0) last = j;
                    idx[i] = (long) i * t + last;
                }
                yield org.peft4j.ops.Indexing.indexSelect(hidden.reshape(b * t, h), 0, Tensor.of(idx, b));
            }
        };
    }

    public static Pooling parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown pooling '" + s + "'; valid: cls, mean, last");
        }
    }

}
