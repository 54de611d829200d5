package org.peft4j.adapters.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * AdapterHub's {@code reduction_factor}: one number for every layer, or a per-layer map such as
 * {@code {"1": 8, "default": 16}}. The bottleneck size of a layer is {@code floor(hidden / factor)}, at least 1.
 *
 * @param fallback the factor of layers the map does not name (the single number, or "default"); null when the map has no default
 * @param perLayer factors of individual layers
 */
public record ReductionFactor(Double fallback, Map<Integer, Double> perLayer) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public ReductionFactor {
        perLayer = Map.copyOf(perLayer);
        if (fallback != null && !(fallback > 0)) throw new IllegalArgumentException("reduction_factor must be > 0, got " + fallback);
        for (Map.Entry<Integer, Double> e : perLayer.entrySet()) {
            if (!(e.getValue() > 0)) throw new IllegalArgumentException("reduction_factor of layer " + e.getKey() + " must be > 0, got " + e.getValue());
        }
        if (fallback == null && perLayer.isEmpty()) throw new IllegalArgumentException("reduction_factor map is empty");
    }

    /** The same factor for every layer. */
    public static ReductionFactor of(double factor) { return new ReductionFactor(factor, Map.of()); }

    /** Parses a number ({@code 16}) or a JSON map ({@code {"1": 8, "default": 16}}). */
    public static ReductionFactor parse(String text) {
        String t = text.trim();
        if (!t.startsWith("{")) {
            try {
                return of(Double.parseDouble(t));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("reduction_factor must be a number or a map like {\"1\": 8, \"default\": 16}, got '" + text + "'");
            }
        }
        JsonNode map;
        try {
            map = JSON.readTree(t);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("reduction_factor map is not valid JSON: '" + text + "'");
        }
        Double fallback = null;
        Map<Integer, Double> layers = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isNumber()) throw new IllegalArgumentException("reduction_factor['" + e.getKey() + "'] must be a number");
            if (e.getKey().equals("default")) {
                fallback = e.getValue().asDouble();
            } else {
                try {
                    layers.put(Integer.parseInt(e.getKey()), e.getValue().asDouble());
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException("reduction_factor map keys must be layer indices or 'default', got '" + e.getKey() + "'");
                }
            }
        }
        return new ReductionFactor(fallback, layers);
    }

    /** The factor of layer {@code layer}; an error if the map neither names it nor has a default. */
    public double forLayer(int layer) {
        Double f = perLayer.getOrDefault(layer, fallback);
        if (f == null) {
            throw new IllegalArgumentException("reduction_factor map " + perLayer + " has no entry for layer " + layer
                    + " and no \"default\"");
        }
        return f;
    }

    /** The bottleneck size at {@code layer} for a model of width {@code hidden}: floor(hidden / factor), at least 1. */
    public int downSize(int hidden, int layer) {
        return Math.max(1, (int) Math.floor(hidden / forLayer(layer)));
    }

    /** A number, or the map with "default" as AdapterHub writes it. */
    public JsonNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (perLayer.isEmpty()) return number(fallback);
        var node = f.objectNode();
        perLayer.forEach((k, v) -> node.set(Integer.toString(k), number(v)));
        if (fallback != null) node.set("default", number(fallback));
        return node;
    }

    private static JsonNode number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? JsonNodeFactory.instance.numberNode((int) v) : JsonNodeFactory.instance.numberNode(v);
    }

    @Override
    public String toString() { return toJson().toString(); }
}
