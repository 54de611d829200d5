package org.peft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.ParameterSummary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j summary --model M [--method SPEC] [--json]}: parameter counts from a config.json alone. */
@Command(name = "summary", header = "Count a model's parameters from its config.json, without reading weights.",
        description = "Prints the total and trainable parameters and a table per module group for the model that"
                + " a config.json describes, so a model can be sized before any weights are downloaded.")
final class SummaryCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", required = true, paramLabel = "MODEL",
            description = "A checkpoint folder, its config.json, or builtin:all-minilm-l6-v2.")
    String model;

    @Option(names = "--method", paramLabel = "SPEC",
            description = "An adapter method to add to the model, e.g. lora[r=16]; its parameters are the trainable ones.")
    String method;

    @Option(names = "--json", description = "Print one JSON object (total, trainable, groups) instead of the table.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        org.peft4j.models.ModelSource source = org.peft4j.models.ModelSource.resolve(model);
        if (source.path().isPresent() && !Files.exists(source.path().get())) throw new NoSuchFileException(model);
        ModelConfig config = source.config();
        ParameterSummary summary = summarise(config, method);
        if (json) printJson(config, summary, main.out);
        else printTable(config, summary, main.out);
        return 0;
    }

    /** The counts of the base model alone, or with the adapter that {@code method} describes as its trainable part. */
    static ParameterSummary summarise(ModelConfig config, String method) {
        return method == null ? ParameterSummary.ofBase(config) : org.peft4j.adapters.AdapterSummary.of(config, method);
    }

    static void printTable(ModelConfig config, ParameterSummary s, PrintStream out) {
        out.printf(Locale.ROOT, "model      %s: %d layers, hidden %,d, vocabulary %,d (%s)%n", config.modelType(),
                config.numLayers(), config.hiddenSize(), config.vocabSize(), config.source());
        out.printf(Locale.ROOT, "total      %,d%n", s.total());
        out.printf(Locale.ROOT, "trainable  %,d (%.2f%%)%n", s.trainable(), percent(s.trainable(), s.total()));
        out.println();

        int nameWidth = "group".length(), countWidth = "parameters".length();
        for (Map.Entry<String, long[]> g : s.groups().entrySet()) {
            nameWidth = Math.max(nameWidth, g.getKey().length());
            countWidth = Math.max(countWidth, String.format(Locale.ROOT, "%,d", g.getValue()[0]).length());
        }
        String row = "%-" + nameWidth + "s  %" + countWidth + "s  %" + countWidth + "s%n";
        out.printf(Locale.ROOT, row, "group", "parameters", "trainable");
        for (Map.Entry<String, long[]> g : s.groups().entrySet()) {
            out.printf(Locale.ROOT, row, g.getKey(), String.format(Locale.ROOT, "%,d", g.getValue()[0]),
                    String.format(Locale.ROOT, "%,d", g.getValue()[1]));
        }
    }

    /** One object: model_type, total, trainable, and groups as name → {total, trainable} in module order. */
    static void printJson(ModelConfig config, ParameterSummary s, PrintStream out) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("model_type", config.modelType());
        root.put("config", config.source());
        root.put("total", s.total());
        root.put("trainable", s.trainable());
        ObjectNode groups = root.putObject("groups");
        s.groups().forEach((name, counts) -> groups.putObject(name).put("total", counts[0]).put("trainable", counts[1]));
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    }

    private static double percent(long part, long whole) {
        return whole == 0 ? 0 : 100.0 * part / whole;
    }
}
