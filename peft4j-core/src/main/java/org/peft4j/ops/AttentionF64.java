package org.peft4j.ops;

/**
 * Float64 attention for gradient checks: the same algorithm as {@link AttentionF32} (one score row
 * at a time, log-sum-exp kept for backward) in plain scalar loops over contiguous arrays.
 */
final class AttentionF64 {
    private final AttentionDims dims;
    private final boolean[] attend;
    private final double scale;

    /** @param attend per batch row and key, whether the key may be attended; null means all may */
    AttentionF64(AttentionDims dims, boolean[] attend, double scale) {
        this.dims = dims;
        this.attend = attend;
        this.scale = scale;
    }

    /** out = softmax(q·kᵀ·scale + mask)·v; lse = each row's log-sum-exp, +inf for a row with no visible key. */
    void forward(double[] q, double[] k, double[] v, double[] out, double[] lse) {
        int headDim = dims.headDim();
        double[] s = new double[dims.keys()];
        for (int b = 0; b < dims.batch(); b++) {
            for (int h = 0; h < dims.queryHeads(); h++) {
                int kvBase = (b * dims.kvHeads() + dims.kvHead(h)) * dims.keys();
                for (int i = 0; i < dims.queries(); i++) {
                    int row = (b * dims.queryHeads() + h) * dims.queries() + i;
                    int keyEnd = dims.keyEnd(i);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < keyEnd; j++) {
                        s[j] = visible(b, j) ? scale * dot(q, row * headDim, k, (kvBase + j) * headDim) : Double.NEGATIVE_INFINITY;
                        max = Math.max(max, s[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        lse[row] = Double.POSITIVE_INFINITY;
                        continue;
                    }
                    double sum = 0;
                    for (int j = 0; j < keyEnd; j++) sum += Math.exp(s[j] - max);
                    lse[row] = max + Math.log(sum);
                    for (int j = 0; j < keyEnd; j++) {
                        double p = Math.exp(s[j] - lse[row]);
                        for (int d = 0; d < headDim; d++) out[row * headDim + d] += p * v[(kvBase + j) * headDim + d];
                    }
                }
            }
        }
    }

    /** Accumulates the gradients into the arrays that are not null (which start zeroed). */
    void backward(double[] q, double[] k, double[] v, double[] out, double[] lse, double[] gradOut,
                  double[] dq, double[] dk, double[] dv) {
        int headDim = dims.headDim();
        for (int b = 0; b < dims.batch(); b++) {
            for (int h = 0; h < dims.queryHeads(); h++) {
                int kvBase = (b * dims.kvHeads() + dims.kvHead(h)) * dims.keys();
                for (int i = 0; i < dims.queries(); i++) {
                    int row = (b * dims.queryHeads() + h) * dims.queries() + i;
                    if (lse[row] == Double.POSITIVE_INFINITY) continue;
                    int qo = row * headDim;
                    double delta = dot(gradOut, qo, out, qo);
                    for (int j = 0; j < dims.keyEnd(i); j++) {
                        if (!visible(b, j)) continue;
                        int ko = (kvBase + j) * headDim;
                        double p = Math.exp(scale * dot(q, qo, k, ko) - lse[row]);
                        if (dv != null) {
                            for (int d = 0; d < headDim; d++) dv[ko + d] += p * gradOut[qo + d];
                        }
                        double ds = p * (dot(gradOut, qo, v, ko) - delta) * scale;
                        if (dq != null) {
                            for (int d = 0; d < headDim; d++) dq[qo + d] += ds * k[ko + d];
                        }
                        if (dk != null) {
                            for (int d = 0; d < headDim; d++) dk[ko + d] += ds * q[qo + d];
                        }
                    }
                }
            }
        }
    }

    private boolean visible(int b, int j) { return attend == null || attend[b * dims.keys() + j]; }

    private double dot(double[] a, int aOff, double[] b, int bOff) {
        double s = 0;
        for (int d = 0; d < dims.headDim(); d++) s += a[aOff + d] * b[bOff + d];
        return s;
    }
}
