package org.peft4j.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared reference fixtures ({@code shared/fixtures} beside the repository). */
public final class Fixtures {
    private Fixtures() {}

    /** {@code shared/fixtures/<kind>} found from the working directory upwards; fails loudly if absent. */
    public static Path dir(String kind) {
        Path p = Path.of("").toAbsolutePath();
        for (; p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared").resolve("fixtures").resolve(kind);
            if (Files.isDirectory(candidate)) return candidate;
        }
        fail("shared/fixtures/" + kind + " not found above " + Path.of("").toAbsolutePath());
        return null;
    }
}
