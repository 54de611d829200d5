package org.peft4j.adapters.bottleneck;

/** <code>scaled_par_bn</code>: <code>par_bn</code> with a learned scalar scaling; {@link BottleneckConfig#SCALED_PAR_BN}. */
public final class ScaledParBnMethod extends BottleneckMethod {
    @Override
    protected BottleneckConfig preset() { return BottleneckConfig.SCALED_PAR_BN; }
}
