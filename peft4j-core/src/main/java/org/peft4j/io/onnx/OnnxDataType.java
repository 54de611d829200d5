package org.peft4j.io.onnx;

import org.peft4j.tensor.DType;

/** Element types of ONNX's {@code TensorProto.DataType}, with their wire codes and peft4j equivalents. */
public enum OnnxDataType {
    FLOAT(1, 4, DType.F32),
    UINT8(2, 1, DType.U8),
    INT8(3, 1, DType.I8),
    UINT16(4, 2, null),
    INT16(5, 2, null),
    INT32(6, 4, DType.I32),
    INT64(7, 8, DType.I64),
    STRING(8, 0, null),
    BOOL(9, 1, DType.BOOL),
    FLOAT16(10, 2, DType.F16),
    DOUBLE(11, 8, DType.F64),
    UINT32(12, 4, null),
    UINT64(13, 8, null),
    COMPLEX64(14, 8, null),
    COMPLEX128(15, 16, null),
    BFLOAT16(16, 2, DType.BF16);

    private final int code;
    private final int byteSize;
    private final DType dtype;

    OnnxDataType(int code, int byteSize, DType dtype) {
        this.code = code;
        this.byteSize = byteSize;
        this.dtype = dtype;
    }

    /** The value of {@code TensorProto.data_type}. */
    public int code() { return code; }

    /** Bytes per element in {@code raw_data}; 0 for STRING, which has no fixed width. */
    public int byteSize() { return byteSize; }

    /** The peft4j dtype holding the same values, or null when peft4j has none. */
    public DType dtype() { return dtype; }

    /** The type with this wire code, or null for codes peft4j does not know (newer float8/int4 types). */
    public static OnnxDataType fromCode(int code) {
        for (OnnxDataType t : values()) if (t.code == code) return t;
        return null;
    }
}
