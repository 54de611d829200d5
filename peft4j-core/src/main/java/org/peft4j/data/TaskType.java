package org.peft4j.data;

/** What a dataset's examples are to be learned as. */
public enum TaskType {
    /** Each example has one label out of a fixed set of names. */
    CLASSIFICATION,
    /** Each example has a real-valued target. */
    REGRESSION,
    /** Plain text: the model learns to predict each next token. */
    CAUSAL_LM
}
