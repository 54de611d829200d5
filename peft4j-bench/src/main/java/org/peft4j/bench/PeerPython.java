package org.peft4j.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The Python interpreter that runs the PyTorch peers, and the peer scripts shipped as resources. */
final class PeerPython {
    /** /usr/bin first: a python3 earlier on PATH (pyenv, venv) often lacks the system torch. */
    private static final List<String> CANDIDATES = List.of("/usr/bin/python3", "python3");

    private static String python;
    private static String unavailable;

    private PeerPython() {}

    /** The first python3 that can import torch, or null (reason in {@link #unavailableReason}). */
    static synchronized String command() {
        find();
        return python;
    }

    /** Why there is no peer, or null when python3 with torch was found. */
    static synchronized String unavailableReason() {
        find();
        return unavailable;
    }

    /** The module every peer script imports, copied beside it. */
    private static final String SHARED = "/peer/openblas_probe.py";

    /**
     * Copies the script resource {@code resource} (e.g. {@code /peer/e2e_peer.py}) and the module the
     * scripts share into a new temporary folder; returns the script's path there ({@link #delete} removes both).
     */
    static Path extract(String resource) throws IOException {
        Path dir = Files.createTempDirectory("peft4j-peer");
        try {
            copy(SHARED, dir);
            return copy(resource, dir);
        } catch (IOException e) {
            deleteFolder(dir);
            throw e;
        }
    }

    private static Path copy(String resource, Path dir) throws IOException {
        Path target = dir.resolve(resource.substring(resource.lastIndexOf('/') + 1));
        try (InputStream in = PeerPython.class.getResourceAsStream(resource)) {
            if (in == null) throw new IOException("resource " + resource + " is missing from the jar");
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    /** Removes what {@link #extract} wrote for {@code script}; a leftover temporary file is harmless, so failures are ignored. */
    static void delete(Path script) { deleteFolder(script.getParent()); }

    private static void deleteFolder(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.deleteIfExists(f);
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // left for the system's temporary-file cleanup
        }
    }

    private static void find() {
        if (python != null || unavailable != null) return;
        for (String candidate : CANDIDATES) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import torch").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    python = candidate;
                    return;
                }
            } catch (IOException e) {
                // not installed under this name: try the next one
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        unavailable = "no python3 with torch found (tried " + String.join(", ", CANDIDATES)
                + "; on Debian: apt-get install python3-torch libopenblas0-pthread)";
    }
}
