package org.peft4j.adapters.compacter;

import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.bottleneck.BottleneckMethod;

/**
 * <code>compacter</code>: Houlsby placement (after attention and feed-forward) with PHM projections
 * sharing one rule per adapter; reduction factor 32, gelu. {@link BottleneckConfig#COMPACTER}.
 */
public final class CompacterMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.COMPACTER; }
}
