package org.peft4j.tensor;

/** Element types. F32 is the compute type, F64 exists for exact gradient checks, BF16/F16 store frozen weights. */
public enum DType {
    F32(4, true, "F32"),
    F64(8, true, "F64"),
    BF16(2, true, "BF16"),
    F16(2, true, "F16"),
    I64(8, false, "I64"),
    I32(4, false, "I32"),
    I8(1, false, "I8"),
    U8(1, false, "U8"),
    BOOL(1, false, "BOOL");

    private final int byteSize;
    private final boolean floating;
    private final String safetensorsName;

    DType(int byteSize, boolean floating, String safetensorsName) {
        this.byteSize = byteSize;
        this.floating = floating;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() { return byteSize; }

    public boolean isFloating() { return floating; }

    /** The dtype's name in a safetensors header. */
    public String safetensorsName() { return safetensorsName; }

    /** Parses a safetensors dtype name, or returns null when it is not one peft4j knows. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) if (d.safetensorsName.equals(name)) return d;
        return null;
    }
}
