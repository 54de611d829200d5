package org.peft4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j train}: trains one adapter and its task head, and reports test metrics. */
@Command(name = "train", header = "Train an adapter and a task head on a dataset.",
        description = {"Splits the data 80/10/10 (stratified, seeded), trains the adapter and a new task head on the"
                + " training part, keeps the adapter of the best dev epoch, and scores it on the test part.",
                "", "OUTPUT receives adapter/ (the adapter and head), metrics.json (test metrics, trainable and total"
                + " parameters, wall time, peak memory), metrics.jsonl (the loss and every evaluation as training went),"
                + " checkpoint/ (for --resume) and run.json (what eval, predict and merge read)."})
final class TrainCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = "--model", required = true, paramLabel = "MODEL",
            description = "A Hugging Face checkpoint folder, or builtin:all-minilm-l6-v2.")
    String model;

    @Option(names = "--data", required = true, paramLabel = "DATA",
            description = "A .jsonl or .csv file (text, optional text_pair, label or value), or builtin:spam-assassin,"
                    + " builtin:sotu, builtin:afinn, builtin:moby-dick.")
    String data;

    @Option(names = "--method", paramLabel = "SPEC",
            description = "The adapter method, e.g. seq_bn, lora[r=8,alpha=16], prefix_tuning|par_bn (not with --from).")
    String method;

    @Option(names = "--from", paramLabel = "DIR",
            description = "Start from a trained adapter instead of a new one: a run folder of train or an adapter folder"
                    + " (peft4j, PEFT or AdapterHub). Its head is not used: a new head is trained for this data.")
    Path from;

    @Option(names = "--freeze-adapter", description = "With --from: train only the new head over the adapter as it is"
            + " (a linear probe of what the adapter learned elsewhere).")
    boolean freezeAdapter;

    @Option(names = "--name", paramLabel = "NAME", description = "The adapter's name (default: ${DEFAULT-VALUE}).")
    String name = TrainJob.DEFAULT_ADAPTER_NAME;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "The run folder.")
    Path output;

    @Option(names = "--resume", description = "Continue from OUTPUT's last checkpoint (same settings), e.g. after a kill.")
    boolean resume;

    @Mixin
    BudgetOptions budget;

    @Override
    public Integer call() throws Exception {
        if ((method == null) == (from == null)) throw new IllegalArgumentException("give either --method (a new adapter) or --from (a trained one)");
        if (freezeAdapter && from == null) throw new IllegalArgumentException("--freeze-adapter needs --from: a new adapter cannot stay frozen");
        TrainJob.Request request = new TrainJob.Request(model, data, method, from, freezeAdapter, name, budget, output, resume);
        try (var _ = TrainJob.run(request, main.out, Main.interactive())) {
            return 0;
        }
    }
}
