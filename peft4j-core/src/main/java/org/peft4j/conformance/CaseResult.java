package org.peft4j.conformance;

import java.util.LinkedHashMap;
import java.util.Map;

/** The outcome of one fixture case: pass/fail, the worst relative errors per quantity, and why it failed. */
public final class CaseResult {
    private final String name;
    private final Map<String, Double> errors = new LinkedHashMap<>();
    private String failure;

    CaseResult(String name) { this.name = name; }

    public String name() { return name; }

    /** Records the error of a compared quantity (kept as the maximum over everything of that kind). */
    void error(String kind, String what, double relError, double limit) {
        errors.merge(kind, relError, Math::max);
        if (!(relError <= limit) && failure == null) failure = what + " error " + fmt(relError) + " > " + fmt(limit);
    }

    void fail(String why) {
        if (failure == null) failure = why;
    }

    public boolean passed() { return failure == null && !errors.isEmpty(); }

    public String line() {
        StringBuilder sb = new StringBuilder(passed() ? "PASS " : "FAIL ").append(name);
        errors.forEach((k, v) -> sb.append("  ").append(k).append("=").append(fmt(v)));
        if (failure != null) sb.append("  -- ").append(failure);
        else if (errors.isEmpty()) sb.append("  -- nothing was compared");
        return sb.toString();
    }

    private static String fmt(double v) { return String.format("%.2e", v); }
}
