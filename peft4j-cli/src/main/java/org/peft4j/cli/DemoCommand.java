package org.peft4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j demo}: the foundation demo (see {@link FoundationDemo}). */
@Command(name = "demo", header = "Train a LoRA-style update over a frozen bf16 layer (foundation demo).",
        description = "Trains a rank-8 LoRA-style update over a frozen bf16 linear layer to recover a hidden"
                + " low-rank change to its weight, and shows the trainable share of the parameters, the loss,"
                + " and that the frozen weight got no gradient.")
final class DemoCommand implements Runnable {
    @ParentCommand
    Main main;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps = FoundationDemo.Config.DEFAULT.steps();

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed = FoundationDemo.Config.DEFAULT.seed();

    @Override
    public void run() {
        FoundationDemo.Config config = FoundationDemo.Config.DEFAULT.withSteps(steps).withSeed(seed);
        new FoundationDemo(config).run(main.out, Main.interactive());
    }
}
