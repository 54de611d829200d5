package org.peft4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A benchmark process spoken to in JSON lines: one request on its stdin, one reply on its stdout; its
 * stderr goes to ours. The peft4j side runs in a child JVM ({@link E2eWorker}) and the PyTorch side in
 * a Python process (e2e_peer.py); both speak the same protocol, so the bench drives them alike and
 * can alternate their samples.
 */
final class E2eChannel implements AutoCloseable {
    /**
     * Extra JVM options for the worker JVMs, split at spaces (e.g. a flight recording for profiling):
     * {@code -Dpeft4j.e2e.workerOpts="-XX:StartFlightRecording=filename=/tmp/e2e.jfr"}.
     */
    static final String WORKER_OPTS_PROPERTY = "peft4j.e2e.workerOpts";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String label;
    private final Process process;
    private final BufferedWriter requests;
    private final BufferedReader replies;

    private E2eChannel(String label, Process process) {
        this.label = label;
        this.process = process;
        this.requests = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
        this.replies = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Starts {@code command} (with {@code env} added to the environment) as a channel called {@code label}. */
    static E2eChannel start(String label, List<String> command, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return new E2eChannel(label, pb.start());
    }

    /**
     * Starts a child JVM running {@link E2eWorker}: this JVM's own executable, options and class path
     * (so it gets the same module flags and garbage collector), less a debugger agent or flight
     * recording, plus {@link #WORKER_OPTS_PROPERTY}.
     */
    static E2eChannel startWorker(String label) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-agentlib:jdwp") || arg.startsWith("-XX:StartFlightRecording") || arg.startsWith("-D" + WORKER_OPTS_PROPERTY)) continue;
            cmd.add(arg);
        }
        String extra = System.getProperty(WORKER_OPTS_PROPERTY, "").trim();
        if (!extra.isEmpty()) cmd.addAll(List.of(extra.split("\\s+")));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(E2eWorker.class.getName());
        return start(label, cmd, Map.of());
    }

    String label() { return label; }

    /**
     * Seconds per step, for training the loss before each update, and the Java heap bytes allocated per
     * step (-1 where the side does not report it: the Python peer).
     */
    record Samples(double[] seconds, double[] losses, long allocatedPerStep) {}

    /** Runs {@code steps} training steps; each one's time and loss. */
    Samples train(int steps) throws IOException {
        JsonNode r = ask(Map.of("op", "train", "steps", steps));
        return new Samples(doubles(r.path("seconds")), doubles(r.path("losses")), r.path("allocated_per_step").asLong(-1));
    }

    /** Runs {@code steps} forward passes without autograd; each one's time. */
    Samples infer(int steps) throws IOException {
        JsonNode r = ask(Map.of("op", "infer", "steps", steps));
        return new Samples(doubles(r.path("seconds")), new double[0], r.path("allocated_per_step").asLong(-1));
    }

    /** The batch's logits without autograd, row-major. */
    double[] logits() throws IOException {
        return doubles(ask(Map.of("op", "logits")).path("logits"));
    }

    /** Replaces the batch by a seeded random full-length one of [batch, seq]. */
    void shape(int batch, int seq, long seed) throws IOException {
        ask(Map.of("op", "shape", "batch", batch, "seq", seq, "seed", seed));
    }

    /** The process's peak resident memory (VmHWM) in bytes, -1 when unknown. */
    long peakRss() throws IOException {
        return ask(Map.of("op", "rss")).path("vmhwm").asLong(-1);
    }

    private static double[] doubles(JsonNode array) {
        double[] v = new double[array.size()];
        for (int i = 0; i < v.length; i++) v[i] = array.get(i).asDouble();
        return v;
    }

    /** Sends one request and returns the reply; an {@code error} reply or an exited process is an IOException. */
    JsonNode ask(Map<String, ?> request) throws IOException {
        requests.write(JSON.writeValueAsString(request));
        requests.newLine();
        requests.flush();
        String line = replies.readLine();
        if (line == null) throw new IOException(label + " exited (see its messages above)");
        JsonNode reply;
        try {
            reply = JSON.readTree(line);
        } catch (IOException e) {
            throw new IOException(label + " answered something that is not JSON: " + line, e);
        }
        if (reply.has("error")) throw new IOException(label + " failed on " + request.get("op") + ": " + reply.get("error").asText());
        return reply;
    }

    /** Asks the process to quit; destroys it when it does not within 10 s. */
    @Override
    public void close() {
        try {
            requests.write("{\"op\": \"quit\"}");
            requests.newLine();
            requests.flush();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroy();
        } catch (IOException e) {
            process.destroy();
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
        }
    }
}
