package org.peft4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.peft4j.bench.E2eBench;
import org.peft4j.bench.GemmBench;
import org.peft4j.models.ModelLoader.WeightStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code peft4j bench ...}: benchmarks against peer libraries, measured in the same run. */
@Command(name = "bench", header = "Benchmarks against peer libraries, measured in the same run.",
        subcommands = {BenchCommand.Gemm.class, BenchCommand.E2e.class})
final class BenchCommand implements Runnable {
    @ParentCommand
    Main main;

    @Spec
    CommandSpec spec;

    /** Without a benchmark name: the list of benchmarks. */
    @Override
    public void run() {
        spec.commandLine().usage(main.out);
    }

    /** {@code peft4j bench gemm [--json FILE]}. */
    @Command(name = "gemm", header = "GEMM GFLOP/s of peft4j next to OpenBLAS sgemm.",
            description = "Measures float32 GEMM for M = 2048 and the (N, K) shapes of a BERT-base layer, NN/NT/TN"
                    + " at 1 and 2 threads, next to OpenBLAS sgemm measured in the same run when it can be found.")
    static final class Gemm implements Callable<Integer> {
        @ParentCommand
        BenchCommand bench;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the rows to FILE as JSON.")
        Path json;

        @Override
        public Integer call() {
            return GemmBench.run(json, bench.main.out);
        }
    }

    /** {@code peft4j bench e2e [--methods a,b] [--steps N] [--json FILE]}. */
    @Command(name = "e2e", header = "Training and inference tokens/s and peak memory of each adapter method next to PyTorch.",
            description = "Trains and runs the built-in all-MiniLM-L6-v2 with each adapter method, a mean-pooling 2-label head"
                    + " and AdamW on a 16 × 128 batch, next to the same model, adapter, weights and batch in PyTorch (Debian's"
                    + " python3-torch), measured in the same run. Both sides first train 3 steps from the same tensors and"
                    + " must agree on the losses and logits. peft4j runs in a child JVM per method so that its peak RSS is"
                    + " that workload's own. Ends with a scaling table over threads and batch × length.")
    static final class E2e implements Callable<Integer> {
        @ParentCommand
        BenchCommand bench;

        @Option(names = "--methods", split = ",", paramLabel = "METHOD",
                description = "Methods to run (default: all of seq_bn, double_seq_bn, lora, prefix_tuning_flat, bitfit).")
        List<String> methods;

        @Option(names = "--steps", paramLabel = "N", description = "Timed one-step samples per metric and side (default: ${DEFAULT-VALUE}).")
        int steps = E2eBench.DEFAULT_STEPS;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the rows to FILE as JSON.")
        Path json;

        @Option(names = "--dtype", paramLabel = "DTYPE", description = "Storage of peft4j's frozen weights: f32 or bf16"
                + " (the PyTorch side gets the same values in float32) (default: ${DEFAULT-VALUE}).")
        String dtype = "f32";

        @Option(names = "--scaling", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "Measure the scaling table too (--no-scaling skips it).")
        boolean scaling = true;

        @Override
        public Integer call() {
            WeightStorage storage;
            try {
                storage = WeightStorage.parse(dtype);
            } catch (IllegalArgumentException e) {
                bench.main.out.println(e.getMessage());
                return 2;
            }
            return E2eBench.run(methods == null ? E2eBench.METHODS : methods, steps, storage, scaling, json, bench.main.out);
        }
    }
}
