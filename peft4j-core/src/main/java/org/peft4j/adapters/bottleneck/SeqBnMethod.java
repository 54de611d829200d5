package org.peft4j.adapters.bottleneck;

import java.util.List;

/** <code>seq_bn</code> (alias <code>pfeiffer</code>): one adapter after the feed-forward sublayer, reading LN(x + h); {@link BottleneckConfig#SEQ_BN}. */
public final class SeqBnMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.SEQ_BN; }

    @Override
    public List<String> aliases() { return List.of("pfeiffer"); }
}
