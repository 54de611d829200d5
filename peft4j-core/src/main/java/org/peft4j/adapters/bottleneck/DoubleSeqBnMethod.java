package org.peft4j.adapters.bottleneck;

import java.util.List;

/** <code>double_seq_bn</code> (alias <code>houlsby</code>): adapters after the attention and feed-forward sublayers, reading h; {@link BottleneckConfig#DOUBLE_SEQ_BN}. */
public final class DoubleSeqBnMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.DOUBLE_SEQ_BN; }

    @Override
    public List<String> aliases() { return List.of("houlsby"); }
}
