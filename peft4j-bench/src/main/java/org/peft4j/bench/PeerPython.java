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

    /** Copies the script resource {@code resource} (e.g. {@code /peer/e2e_peer.py}) to a new temporary file. */
    static Path extract(String resource) throws IOException {
        Path script = Files.createTempFile("peft4j-peer", ".py");
        try (InputStream in = PeerPython.class.getResourceAsStream(resource)) {
            if (in == null) throw new IOException("resource " + resource + " is missing from the jar");
            Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(script);
            throw e;
        }
        return script;
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
