package org.peft4j.adapters.loha;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Writing the plain values of method configs (null, text, number, boolean, list) into JSON objects. */
public final class Jsons {
    private Jsons() {}

    /** Puts {@code value} under {@code key}: null as JSON null, a list as an array of its items. */
    public static void put(ObjectNode json, String key, Object value) {
        switch (value) {
            case null -> json.putNull(key);
            case String s -> json.put(key, s);
            case Boolean b -> json.put(key, b);
            case Integer i -> json.put(key, i);
            case Long l -> json.put(key, l);
            case Double d -> json.put(key, d);
            case List<?> list -> {
                ArrayNode array = json.putArray(key);
                for (Object item : list) {
                    if (item instanceof Integer i) array.add(i);
                    else array.add(String.valueOf(item));
                }
            }
            default -> throw new IllegalArgumentException("cannot write " + value.getClass().getSimpleName() + " as JSON field '" + key + "'");
        }
    }
}
