package org.peft4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.peft4j.bench.GemmBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code peft4j bench ...}: benchmarks against peer libraries, measured in the same run. */
@Command(name = "bench", header = "Benchmarks against peer libraries, measured in the same run.",
        subcommands = BenchCommand.Gemm.class)
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
}
