package org.peft4j.data;

/** A dataset divided into disjoint train, dev (model selection) and test (final report) parts. */
public record Splits(Dataset train, Dataset dev, Dataset test) {}
