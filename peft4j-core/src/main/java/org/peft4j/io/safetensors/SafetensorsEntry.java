package org.peft4j.io.safetensors;

import java.util.Arrays;
import org.peft4j.tensor.DType;

/**
 * One tensor's header entry: its name, dtype, shape and byte range {@code [dataBegin, dataEnd)} relative
 * to the start of the data area (the byte after the header).
 */
public record SafetensorsEntry(String name, DType dtype, int[] shape, long dataBegin, long dataEnd) {
    public SafetensorsEntry {
        shape = shape.clone();
    }

    @Override
    public int[] shape() { return shape.clone(); }

    /** Number of elements (1 for a scalar, 0 when a dimension is 0). */
    public long numel() {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    public long byteLength() { return dataEnd - dataBegin; }

    @Override
    public boolean equals(Object o) {
        return o instanceof SafetensorsEntry e && name.equals(e.name) && dtype == e.dtype
                && Arrays.equals(shape, e.shape) && dataBegin == e.dataBegin && dataEnd == e.dataEnd;
    }

    @Override
    public int hashCode() { return 31 * name.hashCode() + Arrays.hashCode(shape); }

    @Override
    public String toString() {
        return name + " " + dtype.safetensorsName() + Arrays.toString(shape) + " @[" + dataBegin + ", " + dataEnd + ")";
    }
}
