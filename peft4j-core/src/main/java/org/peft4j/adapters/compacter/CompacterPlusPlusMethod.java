package org.peft4j.adapters.compacter;

import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.bottleneck.BottleneckMethod;

/**
 * <code>compacter++</code>: Pfeiffer placement (after the feed-forward sublayer only) with PHM projections
 * sharing one rule per adapter; reduction factor 32, gelu. {@link BottleneckConfig#COMPACTER_PP}.
 */
public final class CompacterPlusPlusMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.COMPACTER_PP; }
}
