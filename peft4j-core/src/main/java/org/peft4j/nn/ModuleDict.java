package org.peft4j.nn;

/** A plain container that only groups children under a name (HF's {@code encoder}, {@code layer}, ...). */
public final class ModuleDict extends Module {
}
