package org.peft4j.tokenizer;

/**
 * Keeps DJL (which runs the Hugging Face tokenizers library) off the network. Must run before any DJL
 * class is used.
 *
 * <p>Without these switches DJL 0.38 would, on creating a tokenizer, "call home" (query the EC2 metadata
 * address 169.254.169.254 and a telemetry host) and, on a machine with CUDA, download a CUDA build of the
 * native library instead of extracting the CPU one bundled in its jar. Offline mode ({@code ai.djl.offline})
 * disables both: the call home returns at once and the CPU library is extracted from the jar to
 * {@code ~/.djl.ai/tokenizers/} (or {@code $DJL_CACHE_DIR}) and loaded from there. {@code OPT_OUT_TRACKING}
 * and {@code RUST_FLAVOR=cpu} say the same thing a second way. DJL reads environment variables before
 * system properties, so an environment that sets one of them to another value is refused.
 */
final class DjlOffline {
    private static final String[][] SWITCHES = {
        {"DJL_OFFLINE", "ai.djl.offline", "true"},
        {"OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true"},
        {"RUST_FLAVOR", "RUST_FLAVOR", "cpu"},
    };

    private DjlOffline() {}

    /** Sets every switch; throws if an environment variable overrides one of them the wrong way. */
    static synchronized void configure() {
        for (String[] s : SWITCHES) {
            String env = System.getenv(s[0]);
            if (env != null && !env.equalsIgnoreCase(s[2])) {
                throw new IllegalStateException("environment variable " + s[0] + "=" + env + " would let the tokenizer "
                        + "library reach the network; unset it or set it to " + s[2]);
            }
            System.setProperty(s[1], s[2]);
        }
    }
}
