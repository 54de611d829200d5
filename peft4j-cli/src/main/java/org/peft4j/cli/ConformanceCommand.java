package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.peft4j.conformance.CaseResult;
import org.peft4j.conformance.Conformance;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j conformance FOLDER}: checks peft4j against reference fixtures exported from Hugging Face. */
@Command(name = "conformance", header = "Check peft4j against a folder of reference fixtures.",
        description = "Runs every case of a fixture folder laid out as <arch>/inputs.safetensors, <arch>/base/ and"
                + " <arch>/<case>/ (see shared/fixtures/hf/README.md): outputs, losses, every gradient and greedy"
                + " generation. Prints one PASS or FAIL line per case and 'N passed, M failed'; the exit status"
                + " is 1 when any case failed or could not run.")
final class ConformanceCommand implements Callable<Integer> {
    /** Files that sit in an architecture's or a case's folder, never in a fixture folder itself. */
    private static final Set<String> CASE_FILES = Set.of("config.json", "adapter_config.json", "expected.safetensors");

    @ParentCommand
    Main main;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Parameters(paramLabel = "FOLDER", description = "The fixture folder, holding one folder per architecture.")
    Path folder;

    @Override
    public Integer call() throws IOException {
        checkLayout(folder);
        List<CaseResult> results = Conformance.run(folder, main.out);
        return results.stream().allMatch(CaseResult::passed) ? 0 : 1;
    }

    /**
     * Rejects what is not a fixture folder before anything runs: given one architecture's or one case's
     * folder, the runner would find no cases and report "0 passed, 0 failed", which reads as success.
     */
    static void checkLayout(Path folder) throws IOException {
        if (!Files.exists(folder)) throw new NoSuchFileException(folder.toString());
        if (!Files.isDirectory(folder)) throw new IOException(folder + " is a file, not a fixture folder");
        List<Path> archs = subfolders(folder);
        boolean oneArch = Files.exists(folder.resolve("inputs.safetensors")) || holdsCaseFiles(folder);
        for (Path arch : archs) oneArch |= holdsCaseFiles(arch);
        if (oneArch) {
            throw new IOException(folder + " looks like one architecture's or case's folder: give the fixture folder"
                    + " that holds <arch>/<case>/ folders");
        }
        for (Path arch : archs) {
            if (!subfolders(arch).isEmpty()) return;
        }
        throw new IOException(folder + " is not a fixture folder: it holds no <arch>/<case>/ folders");
    }

    private static boolean holdsCaseFiles(Path dir) {
        return CASE_FILES.stream().anyMatch(f -> Files.exists(dir.resolve(f)));
    }

    private static List<Path> subfolders(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).toList();
        }
    }
}
