package org.peft4j.adapters.lokr;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.adapters.ConfigArgs;
import org.peft4j.adapters.MethodConfig;
import org.peft4j.adapters.loha.LycorisOptions;

/**
 * LoKr (low-rank Kronecker product): {@code ΔW = kron(w1, w2) · α/r}, with the LyCORIS options of
 * {@link LycorisOptions} and PEFT's own: {@code decompose_both} (w1 also as a rank-r product when r is small),
 * {@code decompose_factor} (the factor the layer sizes are split by; -1 = near the square root) and
 * {@code rank_dropout_scale} (rescale the rows kept by rank dropout), e.g. {@code lokr[r=4,alpha=8]}.
 */
public record LokrConfig(LycorisOptions options, boolean decomposeBoth, int decomposeFactor, boolean rankDropoutScale)
        implements MethodConfig {

    public static LokrConfig read(ConfigArgs args) {
        return new LokrConfig(LycorisOptions.read(args), args.bool("decompose_both", false), args.integer("decompose_factor", -1),
                args.bool("rank_dropout_scale", false));
    }

    @Override
    public String method() { return LokrMethod.NAME; }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        options.writeTo(json);
        json.put("decompose_both", decomposeBoth);
        json.put("decompose_factor", decomposeFactor);
        json.put("rank_dropout_scale", rankDropoutScale);
        return json;
    }

    /** The factor shapes on a layer of {@code out} × {@code in} at {@code path}. */
    LokrShapes shapes(String path, int out, int in) {
        int r = options.rank(path);
        int[] outF = Factorization.split(out, decomposeFactor), inF = Factorization.split(in, decomposeFactor);
        boolean fullW1 = !(decomposeBoth && r < Math.max(outF[0], inF[0]) / 2.0);
        boolean fullW2 = !(r < Math.max(outF[1], inF[1]) / 2.0);
        return new LokrShapes(r, outF[0], outF[1], inF[0], inF[1], fullW1, fullW2);
    }
}
