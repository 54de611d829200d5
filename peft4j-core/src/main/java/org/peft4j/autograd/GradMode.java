package org.peft4j.autograd;

/**
 * Whether operations record themselves for backward. Thread-local so that inference on one thread
 * never switches off recording on another.
 */
public final class GradMode {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private GradMode() {}

    public static boolean isEnabled() { return ENABLED.get()[0]; }

    /** Disables recording until the returned scope is closed: {@code try (var s = GradMode.noGrad()) {...}}. */
    public static Scope noGrad() { return set(false); }

    /** Enables recording until the returned scope is closed. */
    public static Scope enableGrad() { return set(true); }

    private static Scope set(boolean value) {
        boolean[] flag = ENABLED.get();
        boolean previous = flag[0];
        flag[0] = value;
        return () -> flag[0] = previous;
    }

    /** A scope that restores the previous mode when closed. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
