package org.peft4j.adapters;

/** The two sublayers of a transformer layer where bottleneck adapters sit. */
public enum Location { ATTENTION, FFN }
