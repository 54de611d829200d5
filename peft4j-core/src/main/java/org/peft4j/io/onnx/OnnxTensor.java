package org.peft4j.io.onnx;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One {@code TensorProto}: an initializer or a constant attribute value.
 *
 * @param name the tensor's name ("" when it has none, as in some attribute tensors)
 * @param dataType the {@code data_type} wire code; {@link #type()} resolves it
 * @param dims the shape (not to be modified)
 * @param data the elements, little-endian and densely packed: a slice of the file for {@code raw_data}
 *     (no copy), or freshly decoded from the typed {@code *_data} fields; empty for STRING tensors
 */
public record OnnxTensor(String name, int dataType, long[] dims, MemorySegment data) {

    /** The element type, or an exception for a code peft4j does not know. */
    public OnnxDataType type() throws OnnxFormatException {
        OnnxDataType t = OnnxDataType.fromCode(dataType);
        if (t == null) throw new OnnxFormatException("tensor '" + name + "' has unknown data_type " + dataType);
        return t;
    }

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    /** The shape as ints, as {@link Tensor} uses. */
    public int[] shape() throws OnnxFormatException {
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0 || dims[i] > Integer.MAX_VALUE) {
                throw new OnnxFormatException("tensor '" + name + "' has dimension " + dims[i] + " in "
                        + Arrays.toString(dims));
            }
            shape[i] = (int) dims[i];
        }
        return shape;
    }

    /**
     * A tensor viewing {@link #data()} without copying it. The result reads through unaligned
     * little-endian accesses; call {@code detachedCopy(DType.F32)} on it for a heap copy.
     */
    public Tensor toTensor() throws OnnxFormatException {
        OnnxDataType t = type();
        DType dtype = t.dtype();
        if (dtype == null) {
            throw new OnnxFormatException("tensor '" + name + "' has data_type " + t + ", which peft4j has no dtype for");
        }
        return Tensor.wrap(data, dtype, shape());
    }

    /** The elements converted to float (any numeric type peft4j knows), row-major. */
    public float[] toFloatArray() throws OnnxFormatException {
        Tensor t = toTensor();
        float[] out = new float[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = (float) t.getStorage(i);
        return out;
    }

    @Override
    public String toString() {
        OnnxDataType t = OnnxDataType.fromCode(dataType);
        return "OnnxTensor(" + name + " " + (t != null ? t : "type " + dataType) + Arrays.toString(dims) + ")";
    }
}
