package org.peft4j.adapters;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** A method's configuration: one record per method, with the defaults of DESIGN.md. */
public interface MethodConfig {
    /** The registry name of the method this configures ({@code lora}, {@code seq_bn}, ...). */
    String method();

    /** Every field, under the names the string and JSON forms use, for saving and display. */
    ObjectNode toJson();
}
