package org.peft4j.adapters;

import java.util.List;

/** A named adapter on a model: its method configs (several for a union) and the dotted names of its tensors. */
public record AdapterEntry(String name, List<MethodConfig> configs, List<String> parameterNames) {
    public AdapterEntry {
        configs = List.copyOf(configs);
        parameterNames = List.copyOf(parameterNames);
    }
}
