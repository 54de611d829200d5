package org.peft4j.tensor;

/** bfloat16: the upper 16 bits of a float32. */
public final class BFloat16 {
    private BFloat16() {}

    public static float toFloat(short bits) { return Float.intBitsToFloat((bits & 0xffff) << 16); }

    /** Rounds to nearest, ties to even; NaN stays NaN. */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
