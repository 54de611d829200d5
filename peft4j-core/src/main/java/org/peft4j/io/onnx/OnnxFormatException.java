package org.peft4j.io.onnx;

import java.io.IOException;

/** An ONNX file (or one of its protobuf messages) is malformed or uses a feature peft4j does not read. */
public final class OnnxFormatException extends IOException {
    public OnnxFormatException(String message) {
        super(message);
    }
}
