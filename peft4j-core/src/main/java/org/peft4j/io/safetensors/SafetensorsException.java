package org.peft4j.io.safetensors;

import java.io.IOException;

/**
 * A safetensors file or sharded checkpoint that cannot be read or written as asked. The message names
 * the file and, where one is at fault, the tensor, and says what is wrong.
 */
public final class SafetensorsException extends IOException {
    public SafetensorsException(String message) { super(message); }

    public SafetensorsException(String message, Throwable cause) { super(message, cause); }
}
