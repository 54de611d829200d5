package org.peft4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import jdk.incubator.vector.FloatVector;
import org.peft4j.tensor.Parallel;
import picocli.CommandLine.IVersionProvider;

/** peft4j's version and the runtime it found: Java, OS, vector width and compute threads. */
public final class VersionInfo implements IVersionProvider {
    /** The project version the CLI was built from (e.g. 0.1.0-SNAPSHOT). */
    public static String version() {
        try (InputStream in = VersionInfo.class.getResourceAsStream("version.properties")) {
            if (in == null) throw new IllegalStateException("version.properties is missing from the peft4j-cli build");
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lines {@code peft4j version} prints. */
    public static String[] lines() {
        var species = FloatVector.SPECIES_PREFERRED;
        return new String[] {
            "peft4j " + version(),
            "java " + Runtime.version() + " (" + System.getProperty("java.vendor") + "), "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"),
            "vector " + species.vectorBitSize() + "-bit float (" + species.length() + " lanes), "
                    + Parallel.threads() + " compute thread" + (Parallel.threads() == 1 ? "" : "s"),
        };
    }

    @Override
    public String[] getVersion() { return lines(); }
}
