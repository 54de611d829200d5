package org.peft4j.adapters.bitfit;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;

/**
 * BitFit's configuration (string form {@code bitfit}, {@code bitfit[biases=query|intermediate]},
 * {@code bitfit[add_missing=true]}).
 *
 * <p>Which biases train: {@code ["all"]} (the default) selects every bias of the base model — attention
 * q/k/v/output, feed-forward in/out, every LayerNorm β including the embeddings' and the pooler's.
 * Otherwise each entry names modules: an entry selects a bias when the entry's dotted components occur
 * as a contiguous run of whole components of the bias's module path, i.e. the path equals the entry,
 * ends with {@code "." + entry} or contains {@code "." + entry + "."}. The module path is the bias's dotted
 * name without {@code .bias} and without the {@code base_layer} step an adapted linear layer adds. So
 * {@code query} selects {@code encoder.layer.3.attention.self.query.bias}, {@code intermediate} selects
 * {@code encoder.layer.3.intermediate.dense.bias}, {@code attention.output} that sublayer's dense and
 * LayerNorm biases, {@code LayerNorm} every LayerNorm β, {@code layer.0} every bias of layer 0, and
 * {@code quer} nothing. An entry may end in {@code .bias}; it is dropped.
 *
 * @param biases     {@code ["all"]}, or the module-name entries described above
 * @param addMissing whether selected linear layers without a bias get a zero-initialised one (Llama);
 *                   norms without β (RMSNorm) get none
 */
public record BitFitConfig(List<String> biases, boolean addMissing) implements MethodConfig {
    /** The {@code biases} value that selects every bias. */
    public static final String ALL = "all";

    public BitFitConfig {
        if (biases == null || biases.isEmpty()) throw new IllegalArgumentException("bitfit: field 'biases' is empty; use 'all' or module names");
        List<String> clean = new ArrayList<>();
        for (String entry : biases) {
            String e = entry == null ? "" : entry.trim();
            if (e.endsWith(".bias")) e = e.substring(0, e.length() - ".bias".length());
            if (e.isEmpty() || e.startsWith(".") || e.endsWith(".") || e.contains("..")) {
                throw new IllegalArgumentException("bitfit: biases entry '" + entry + "' is not a dotted module name");
            }
            if (clean.contains(e)) throw new IllegalArgumentException("bitfit: biases entry '" + e + "' is given twice");
            clean.add(e);
        }
        if (clean.contains(ALL) && clean.size() > 1) {
            throw new IllegalArgumentException("bitfit: biases 'all' cannot be combined with other entries " + clean);
        }
        biases = List.copyOf(clean);
    }

    /** Every bias of the model, none added. */
    public static BitFitConfig defaults() { return new BitFitConfig(List.of(ALL), false); }

    /** The config from the string or JSON form's fields ({@code biases}, {@code add_missing}). */
    public static BitFitConfig parse(ConfigArgs args) {
        List<String> biases = args.list("biases");
        BitFitConfig c = new BitFitConfig(biases.isEmpty() ? List.of(ALL) : biases, args.bool("add_missing", false));
        args.finish();
        return c;
    }

    /** Whether every bias is selected. */
    public boolean allBiases() { return biases.equals(List.of(ALL)); }

    /** Whether the bias of the module at {@code modulePath} (without {@code .bias} and {@code base_layer}) is selected. */
    public boolean selects(String modulePath) {
        if (allBiases()) return true;
        for (String e : biases) if (matches(modulePath, e)) return true;
        return false;
    }

    /** The matching rule of one entry: its components are a contiguous run of whole components of the path. */
    static boolean matches(String modulePath, String entry) {
        return ("." + modulePath + ".").contains("." + entry + ".");
    }

    @Override
    public String method() { return BitFitMethod.NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        if (allBiases()) {
            o.put("biases", ALL);
        } else {
            biases.forEach(o.putArray("biases")::add);
        }
        o.put("add_missing", addMissing);
        return o;
    }
}
