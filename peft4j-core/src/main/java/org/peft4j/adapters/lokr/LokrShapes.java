package org.peft4j.adapters.lokr;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The factors of LoKr on one layer: out = outL·outK, in = inM·inN, w1 [outL, inM] and w2 [outK, inN], each
 * either a full matrix or a rank-r product (w1 only when {@code decompose_both} and r is below half its
 * larger side; w2 whenever r is below half its larger side).
 */
record LokrShapes(int r, int outL, int outK, int inM, int inN, boolean fullW1, boolean fullW2) {
    /** Container name → shape, in PEFT's order. */
    Map<String, int[]> containers() {
        Map<String, int[]> out = new LinkedHashMap<>();
        if (fullW1) {
            out.put("lokr_w1", new int[] {outL, inM});
        } else {
            out.put("lokr_w1_a", new int[] {outL, r});
            out.put("lokr_w1_b", new int[] {r, inM});
        }
        if (fullW2) {
            out.put("lokr_w2", new int[] {outK, inN});
        } else {
            out.put("lokr_w2_a", new int[] {outK, r});
            out.put("lokr_w2_b", new int[] {r, inN});
        }
        return out;
    }
}
