package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's JDK lookup (scripts/find-jdk.sh), run by bash over fake JDK folders. */
class FindJdkScriptTest {
    private static final Path SCRIPT = Path.of("..", "scripts", "find-jdk.sh").toAbsolutePath().normalize();

    @TempDir
    Path tmp;
    private Path jvms;
    private Path bin;

    @BeforeEach
    void fakeJdks() throws IOException {
        assumeTrue(Files.isRegularFile(SCRIPT), "runs from the peft4j-cli module of a checkout");
        assumeTrue(Files.isExecutable(Path.of("/bin/bash")), "needs bash");
        jvms = Files.createDirectories(tmp.resolve("jvm"));
        jdk("jdk-17", "17.0.2", true);
        jdk("jdk-25.0.1", "25.0.1", true);
        jdk("jdk-25.0.10", "25.0.10", true);
        jdk("jre-27", "27", false);                 // no javac: cannot build peft4j
        jdk("jdk-26-norelease", null, true);        // version only from `java -version`
        // A PATH with the tools the script uses and no javac, whatever this machine has installed.
        bin = Files.createDirectories(tmp.resolve("bin"));
        for (String tool : new String[] {"sed", "head", "dirname", "readlink"}) {
            for (String dir : new String[] {"/usr/bin", "/bin"}) {
                if (Files.isExecutable(Path.of(dir, tool))) {
                    executable(bin.resolve(tool), "#!/bin/sh\nexec " + dir + "/" + tool + " \"$@\"\n");
                    break;
                }
            }
        }
    }

    private void jdk(String name, String releaseVersion, boolean withJavac) throws IOException {
        Path home = Files.createDirectories(jvms.resolve(name).resolve("bin"));
        String version = releaseVersion != null ? releaseVersion : name.replaceAll("jdk-(\\d+).*", "$1");
        executable(home.resolve("java"), "#!/bin/bash\necho 'openjdk version \"" + version + "\" 2025-09-16' >&2\n");
        if (withJavac) executable(home.resolve("javac"), "#!/bin/bash\n");
        if (releaseVersion != null) {
            Files.writeString(home.getParent().resolve("release"), "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"" + releaseVersion + "\"\n");
        }
    }

    private static void executable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private record Outcome(int exit, String out, String err) {}

    private Outcome findJdk(String javaHome, String dirs) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", "-c",
                "set -euo pipefail; source \"$1\"; peft4j_find_jdk", "find-jdk", SCRIPT.toString());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", bin.toString());
        env.put("HOME", tmp.toString());
        env.put("PEFT4J_JDK_DIRS", dirs);
        if (javaHome != null) env.put("JAVA_HOME", javaHome);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Outcome(p.waitFor(), out, err);
    }

    @Test
    void picksTheNewestJdk25OrLaterWithJavac() throws Exception {
        Outcome o = findJdk(null, jvms + "/*");
        assertEquals(0, o.exit(), o.err());
        assertEquals(jvms.resolve("jdk-26-norelease").toString(), o.out());
    }

    @Test
    void comparesVersionsNumerically() throws Exception {
        Outcome o = findJdk(null, jvms + "/jdk-25*:" + jvms + "/jdk-17");
        assertEquals(0, o.exit(), o.err());
        assertEquals(jvms.resolve("jdk-25.0.10").toString(), o.out());
    }

    @Test
    void javaHomeWinsWhenItIs25OrNewer() throws Exception {
        Outcome o = findJdk(jvms.resolve("jdk-25.0.1").toString(), jvms + "/*");
        assertEquals(jvms.resolve("jdk-25.0.1").toString(), o.out());
    }

    @Test
    void anOldJavaHomeIsPassedOver() throws Exception {
        Outcome o = findJdk(jvms.resolve("jdk-17").toString(), jvms + "/jdk-25.0.1");
        assertEquals(jvms.resolve("jdk-25.0.1").toString(), o.out());
    }

    @Test
    void explainsWhereItLookedWhenNothingQualifies() throws Exception {
        Outcome o = findJdk(jvms.resolve("jdk-17").toString(), jvms + "/jdk-17:" + jvms + "/jre-*");
        assertEquals(1, o.exit());
        assertEquals("", o.out());
        assertTrue(o.err().startsWith("peft4j needs a JDK 25 or newer (with javac), and found none."), o.err());
        assertTrue(o.err().contains("JAVA_HOME=" + jvms.resolve("jdk-17") + " (Java 17.0.2)"), o.err());
        assertTrue(o.err().contains(jvms + "/jre-*"), o.err());
        assertTrue(o.err().contains("javac on PATH (none)"), o.err());
    }
}
