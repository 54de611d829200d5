package org.peft4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.tensor.Parallel;

/**
 * The peft4j side of the end-to-end benchmark, run in its own JVM so that its peak resident memory is
 * the workload's alone. It serves {@link E2eChannel} requests (the same protocol as e2e_peer.py):
 * <pre>
 *   {"op": "setup", "method", "storage", "batch", "seq", "export"?} -> {"trainable", "threads", "max_heap"}
 *   {"op": "train", "steps"}               -> {"seconds": [...], "losses": [...], "allocated_per_step"}
 *   {"op": "infer", "steps"}               -> {"seconds": [...], "allocated_per_step"}
 *   {"op": "logits"}                       -> {"logits": [...]}  (the batch's, row-major, without autograd)
 *   {"op": "shape", "batch", "seq", "seed"} -> {}
 *   {"op": "threads", "n"}                 -> {}
 *   {"op": "rss"}                          -> {"vmhwm"}
 *   {"op": "quit"}
 * </pre>
 * Replies go to the original stdout; {@code System.out} is pointed at stderr so that nothing else
 * printed can break the protocol.
 */
public final class E2eWorker {
    private static final ObjectMapper JSON = new ObjectMapper();

    private E2eWorker() {}

    public static void main(String[] args) throws IOException {
        PrintStream replies = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        E2eWorkload work = null;
        for (String line; (line = in.readLine()) != null; ) {
            JsonNode req = JSON.readTree(line);
            String op = req.path("op").asText();
            if (op.equals("quit")) return;
            ObjectNode reply = JSON.createObjectNode();
            try {
                switch (op) {
                    case "setup" -> {
                        work = new E2eWorkload(req.path("method").asText(), WeightStorage.parse(req.path("storage").asText("f32")),
                                req.path("batch").asInt(), req.path("seq").asInt());
                        if (req.hasNonNull("export")) {
                            work.export(Path.of(req.get("export").asText()));
                            // The export's write buffers are the harness's, not the workload's: collect
                            // them before they settle in the old generation beside the measured run.
                            System.gc();
                        }
                        reply.put("trainable", work.trainableElements());
                        reply.put("threads", Parallel.threads());
                        // the JVM's heap ceiling bounds its RSS: set it with -Xmx in PEFT4J_JAVA_OPTS
                        reply.put("max_heap", Runtime.getRuntime().maxMemory());
                    }
                    case "train" -> {
                        ArrayNode seconds = reply.putArray("seconds"), losses = reply.putArray("losses");
                        int steps = req.path("steps").asInt();
                        long allocated = allocatedBytes();
                        for (int i = 0; i < steps; i++) {
                            long t0 = System.nanoTime();
                            losses.add(work.trainStep());
                            seconds.add((System.nanoTime() - t0) / 1e9);
                        }
                        reply.put("allocated_per_step", (allocatedBytes() - allocated) / Math.max(1, steps));
                    }
                    case "infer" -> {
                        ArrayNode seconds = reply.putArray("seconds");
                        int steps = req.path("steps").asInt();
                        long allocated = allocatedBytes();
                        for (int i = 0; i < steps; i++) {
                            long t0 = System.nanoTime();
                            work.infer();
                            seconds.add((System.nanoTime() - t0) / 1e9);
                        }
                        reply.put("allocated_per_step", (allocatedBytes() - allocated) / Math.max(1, steps));
                    }
                    case "logits" -> {
                        ArrayNode logits = reply.putArray("logits");
                        for (float v : work.infer().contiguous().floats()) logits.add(v);
                    }
                    case "shape" -> work.reshape(req.path("batch").asInt(), req.path("seq").asInt(), req.path("seed").asLong());
                    case "threads" -> Parallel.setThreads(req.path("n").asInt());
                    case "rss" -> reply.put("vmhwm", peakRss());
                    default -> reply.put("error", "unknown op " + op);
                }
            } catch (RuntimeException | IOException e) {
                if (work == null && !op.equals("setup")) reply.put("error", "no workload: send setup first");
                else reply.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
                e.printStackTrace();
            }
            replies.println(JSON.writeValueAsString(reply));
        }
    }

    /** Bytes allocated on the Java heap so far by every thread of this JVM (live or ended), -1 where unsupported. */
    static long allocatedBytes() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemoryEnabled()) {
            return t.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    /** This process's resident-memory high-water mark ({@code VmHWM}) in bytes, or -1 where /proc has none. */
    static long peakRss() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return -1;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
        return -1;
    }
}
