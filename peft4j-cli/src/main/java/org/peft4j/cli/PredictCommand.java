package org.peft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.peft4j.models.ModelLoader.WeightStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j predict}: labels texts with a trained adapter. */
@Command(name = "predict", header = "Label texts with a trained adapter.",
        description = {"Texts come from the arguments, or else from standard input, one per line (blank lines skipped).",
                "Prints one line per text: the label and its probability (the value, for regression), then the text;"
                        + " with --json one JSON object per line instead. Messages go to standard error."})
final class PredictCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Characters of each text shown after its label. */
    private static final int SHOWN_CHARS = 70;

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", paramLabel = "MODEL", description = "The base model (default: the one the adapter's run recorded).")
    String model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "A run folder of train or fuse, or an adapter folder.")
    Path adapter;

    @Option(names = "--max-length", paramLabel = "N", description = "Tokens per text (default: what the adapter was trained with).")
    Integer maxLength;

    @Option(names = "--batch-size", paramLabel = "N", description = "Texts per batch (default: ${DEFAULT-VALUE}).")
    int batchSize = AdapterSession.DEFAULT_BATCH_SIZE;

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Storage of the frozen weights: auto, f32 or bf16 (default: auto).")
    String dtype = "auto";

    @Option(names = "--json", description = "One JSON object per text: text, label, probability, probabilities (or value).")
    boolean json;

    @Parameters(paramLabel = "TEXT", arity = "0..*", description = "Texts to label (default: the lines of standard input).")
    List<String> texts = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        List<String> inputs = texts.isEmpty() ? readLines() : texts;
        if (inputs.isEmpty()) throw new IllegalArgumentException("no text to label: give texts as arguments or on standard input");
        try (AdapterSession s = AdapterSession.open(model, adapter, maxLength, batchSize, WeightStorage.parse(dtype), main.err)) {
            for (Predictor.Prediction p : new Predictor(s.task(), s.batcher()).predict(inputs)) main.out.println(format(p, json));
        }
        return 0;
    }

    private List<String> readLines() throws IOException {
        List<String> lines = new ArrayList<>();
        BufferedReader reader = new BufferedReader(new InputStreamReader(main.in, StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            if (!line.isBlank()) lines.add(line);
        }
        return lines;
    }

    /** {@code spam  0.9931  Buy now...}, or the JSON object of one prediction. */
    static String format(Predictor.Prediction p, boolean json) throws IOException {
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("text", p.text());
            if (p.label() == null) {
                n.put("value", p.value());
            } else {
                n.put("label", p.label());
                n.put("probability", p.probability());
                ObjectNode all = n.putObject("probabilities");
                p.probabilities().forEach(all::put);
            }
            return JSON.writeValueAsString(n);
        }
        int width = p.probabilities().keySet().stream().mapToInt(String::length).max().orElse(1);
        String head = p.label() == null ? String.format(Locale.ROOT, "%.4f", p.value())
                : String.format(Locale.ROOT, "%-" + width + "s  %.4f", p.label(), p.probability());
        return head + "  " + shorten(p.text(), SHOWN_CHARS);
    }

    /** The text on one line, cut to {@code max} characters with an ellipsis. */
    static String shorten(String text, int max) {
        String one = text.replaceAll("\\s+", " ").strip();
        return one.length() <= max ? one : one.substring(0, max - 1) + "…";
    }
}
