package org.peft4j.adapters.bottleneck;

import java.util.List;

/** <code>par_bn</code> (alias <code>parallel</code>): an adapter parallel to the feed-forward sublayer, reading x, scaled by 4; {@link BottleneckConfig#PAR_BN}. */
public final class ParBnMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.PAR_BN; }

    @Override
    public List<String> aliases() { return List.of("parallel"); }
}
