package org.peft4j.ops;

/**
 * The sizes of one attention call: queries [batch, queryHeads, queries, headDim] against keys and
 * values [batch, kvHeads, keys, headDim].
 */
record AttentionDims(int batch, int queryHeads, int kvHeads, int queries, int keys, int headDim, boolean causal) {

    /** Query heads that share one key/value head (grouped-query attention). */
    int group() { return queryHeads / kvHeads; }

    /** The key/value head that query head {@code h} reads. */
    int kvHead(int h) { return h / group(); }

    /**
     * One past the last key query {@code i} may attend to before the padding mask: every key, or with
     * a causal mask the keys up to {@code i + (keys - queries)}, since the extra leading keys are past
     * tokens (a cache or a prefix). Clamped to [0, keys].
     */
    int keyEnd(int i) {
        if (!causal) return keys;
        return Math.max(0, Math.min(keys, i + 1 + keys - queries));
    }
}
