package org.peft4j.models;

/** A parameter's Hugging Face name and shape, known from the config alone. */
public record ParamSpec(String name, int... shape) {
    public long numel() {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }
}
