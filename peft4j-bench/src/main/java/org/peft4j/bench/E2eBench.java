package org.peft4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.peft4j.models.ModelLoader.WeightStorage;

/**
 * End-to-end training and inference of the built-in MiniLM with each adapter method, peft4j against
 * PyTorch on the same machine in the same run: the same weights, adapter tensors, head, batch
 * (16 × 128) and AdamW settings, dropout off. Before timing, both sides train three steps from the same
 * initial tensors; their losses, and the logits those steps lead to, must agree within 1e-4.
 *
 * <p>Each method runs in a fresh child JVM ({@link E2eWorker}), so its peak resident memory (VmHWM)
 * is that workload's own, JVM included; PyTorch runs as e2e_peer.py in one Python process per thread
 * configuration, its peak memory measured the same way. Samples of one step are taken in turn from
 * every process, so all of them see the same machine load, and the median is reported.
 */
public final class E2eBench {
    /** Methods in the order they are run. */
    public static final List<String> METHODS = List.copyOf(E2eWorkload.SPECS.keySet());
    public static final int DEFAULT_STEPS = 4;
    static final int BATCH = 16;
    static final int SEQ = 128;
    static final int CHECK_STEPS = 3;
    static final double CHECK_TOLERANCE = 1e-4;
    /** Training steps after the check and forward passes before timing, for the JIT (and PyTorch's allocator). */
    static final int WARMUP_TRAIN = 2;
    static final int WARMUP_INFER = 2;
    /** Pause between samples of different processes, so that one's spinning pool threads have gone idle. */
    static final long SETTLE_MS = 100;
    static final String SCALING_METHOD = "seq_bn";
    static final int[][] SCALING_SHAPES = {{4, 64}, {8, 128}, {16, 128}, {32, 256}};
    static final int SCALING_STEPS = 2;
    /** One step at each new shape before its samples: both sides size their buffers for it then. */
    static final int SCALING_WARMUP = 1;
    static final String PEER_SCRIPT = "/peer/e2e_peer.py";

    /** A PyTorch thread configuration: torch.set_num_threads and OpenBLAS's own pool. */
    record PeerConfig(String name, int torchThreads, int blasThreads) {
        String describe() { return "torch " + torchThreads + " intra-op thread(s), OpenBLAS " + blasThreads; }
    }

    /**
     * The configurations tried: both for the first method, then only the one that trained it faster
     * (thread behaviour belongs to the machine and its BLAS, not to the method). Per metric the faster
     * one measured is PyTorch's number.
     */
    static final List<PeerConfig> PEER_CONFIGS = List.of(new PeerConfig("A", 1, 2), new PeerConfig("B", 2, 2));
    /** The scaling table's single-thread PyTorch. */
    static final PeerConfig PEER_ONE_THREAD = new PeerConfig("1t", 1, 1);

    /**
     * One method's medians; the peer arrays follow {@code peers} (NaN / -1 where a peer did not run).
     * {@code lossDiff} and {@code logitsDiff} are the check's largest relative differences, NaN without a peer;
     * {@code allocTrain} / {@code allocInfer} are peft4j's Java heap bytes allocated per step (-1 unknown).
     */
    record MethodResult(String method, long trainable, List<PeerConfig> peers, double trainTokens, double[] peerTrainTokens,
                        double inferTokens, double[] peerInferTokens, long rss, long[] peerRss, double lossDiff, double logitsDiff,
                        String losses, long allocTrain, long allocInfer) {
        double bestPeerTrain() { return max(peerTrainTokens); }

        double bestPeerInfer() { return max(peerInferTokens); }

        long peerRssMin() { return Arrays.stream(peerRss).filter(r -> r > 0).min().orElse(-1); }

        boolean checked() { return !Double.isNaN(lossDiff); }

        boolean checkPassed() { return !(lossDiff > CHECK_TOLERANCE) && !(logitsDiff > CHECK_TOLERANCE); }
    }

    private E2eBench() {}

    public static void main(String[] args) {
        List<String> methods = METHODS;
        int steps = DEFAULT_STEPS;
        Path json = null;
        WeightStorage storage = WeightStorage.F32;
        boolean scaling = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--methods" -> methods = List.of(args[++i].split(","));
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--json" -> json = Path.of(args[++i]);
                case "--dtype" -> storage = WeightStorage.parse(args[++i]);
                case "--no-scaling" -> scaling = false;
                default -> throw new IllegalArgumentException(
                        "usage: E2eBench [--methods a,b] [--steps N] [--json FILE] [--dtype f32|bf16] [--no-scaling]");
            }
        }
        System.exit(run(methods, steps, storage, scaling, json, System.out));
    }

    /** {@link #run(List, int, WeightStorage, boolean, Path, PrintStream)} with f32 weights and the scaling table. */
    public static int run(List<String> methods, int steps, Path jsonOrNull, PrintStream out) {
        return run(methods, steps, WeightStorage.F32, true, jsonOrNull, out);
    }

    /**
     * Runs the benchmark for {@code methods} with {@code steps} timed samples per metric, prints the
     * tables to {@code out} and, when {@code jsonOrNull} is given, writes the rows there as JSON.
     * Returns 0 on success, 1 when a loss check failed or the JSON could not be written, 2 for bad
     * arguments.
     */
    public static int run(List<String> methods, int steps, WeightStorage storage, boolean scaling, Path jsonOrNull, PrintStream out) {
        for (String m : methods) {
            if (!E2eWorkload.SPECS.containsKey(m)) {
                out.println("unknown method '" + m + "'; benchmarked methods: " + String.join(", ", METHODS));
                return 2;
            }
        }
        if (steps < 1) {
            out.println("--steps must be at least 1, got " + steps);
            return 2;
        }
        out.printf("End-to-end: %s + adapter + mean-pooling 2-label head, AdamW (lr %.0e, weight decay %.2f), batch %d × %d tokens%n",
                E2eWorkload.MODEL, E2eWorkload.LR, E2eWorkload.WEIGHT_DECAY, BATCH, SEQ);
        out.printf("dropout off on both sides; peft4j: %s frozen weights, one child JVM per method, peak RSS = that JVM's VmHWM%n",
                storage.name().toLowerCase());
        out.printf("tokens/s = batch × length / median of %d one-step samples, taken in turn from every process after warm-up%n", steps);
        String noPeer = PeerPython.unavailableReason();
        Path script = null;
        if (noPeer != null) {
            out.println("PyTorch peer: none — " + noPeer + "; peft4j's numbers are printed alone");
        } else {
            try {
                script = PeerPython.extract(PEER_SCRIPT);
            } catch (IOException e) {
                out.println("PyTorch peer: none — " + e.getMessage());
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        List<MethodResult> results = new ArrayList<>();
        boolean ok = true;
        List<PeerConfig> configs = script == null ? List.of() : PEER_CONFIGS;
        try {
            for (String method : methods) {
                out.printf("%n[%s] load average before: %s%n", method, loadAverage());
                MethodResult r = measureMethod(method, steps, storage, script, configs, out);
                if (r == null) {
                    ok = false;
                    continue;
                }
                results.add(r);
                ok &= r.checkPassed();
                rows.add(methodRow(r));
                if (configs.size() > 1 && !Double.isNaN(r.bestPeerTrain())) {
                    // the thread configuration is a property of the machine and its BLAS, not of the method
                    configs = List.of(configs.get(argmax(r.peerTrainTokens())));
                    out.printf("[%s] PyTorch trained faster with %s = %s: the next methods time that configuration only%n",
                            method, configs.get(0).name(), configs.get(0).describe());
                }
            }
            printMethodTable(results, out);
            if (scaling) rows.addAll(scalingTable(storage, script, results, out));
        } finally {
            if (script != null) PeerPython.delete(script);
        }
        out.printf("load average after: %s%n", loadAverage());
        if (jsonOrNull != null && !writeJson(jsonOrNull, rows, out)) ok = false;
        return ok ? 0 : 1;
    }

    // ------------------------------------------------------------------ one method

    /** Check, warm-up and timed samples of one method on both sides; null when peft4j's worker failed. */
    private static MethodResult measureMethod(String method, int steps, WeightStorage storage, Path script, List<PeerConfig> configs,
                                              PrintStream out) {
        Path dir = null;
        List<E2eChannel> peers = new ArrayList<>();
        try (E2eChannel worker = E2eChannel.startWorker("peft4j worker (" + method + ")")) {
            dir = Files.createTempDirectory("peft4j-e2e-" + method);
            JsonNode info = worker.ask(setupRequest(method, storage, BATCH, SEQ, dir));
            long trainable = info.path("trainable").asLong();
            out.printf("[%s] spec %s, %,d trainable elements (adapter + head), peft4j threads %d, max heap %d MB%n", method,
                    E2eWorkload.SPECS.get(method), trainable, info.path("threads").asInt(), info.path("max_heap").asLong() >> 20);
            for (PeerConfig c : configs) peers.add(startPeer(c, script, dir, out));

            // the same three steps from the same tensors on every side, then the logits they lead to
            double[] ours = worker.train(CHECK_STEPS).losses(), ourLogits = worker.logits();
            double lossDiff = Double.NaN, logitsDiff = Double.NaN;
            StringBuilder losses = new StringBuilder("peft4j " + fmt(ours));
            for (int i = 0; i < peers.size(); i++) {
                E2eChannel p = peers.get(i);
                if (p == null) continue;
                double[] theirs = p.train(CHECK_STEPS).losses();
                lossDiff = Math.max(Double.isNaN(lossDiff) ? 0 : lossDiff, maxRelDiff(ours, theirs));
                logitsDiff = Math.max(Double.isNaN(logitsDiff) ? 0 : logitsDiff, scaledMaxDiff(ourLogits, p.logits()));
                losses.append(" | torch ").append(configs.get(i).name()).append(' ').append(fmt(theirs));
            }
            out.printf("[%s] check, loss of %d AdamW steps: %s%n", method, CHECK_STEPS, losses);
            if (!Double.isNaN(lossDiff)) {
                boolean passed = lossDiff <= CHECK_TOLERANCE && logitsDiff <= CHECK_TOLERANCE;
                out.printf("[%s] check: losses differ by at most %.1e (relative), logits after the steps by %.1e (max |Δ| / max |logit|): %s%n",
                        method, lossDiff, logitsDiff, passed ? "OK (≤ " + CHECK_TOLERANCE + ")" : "FAILED (> " + CHECK_TOLERANCE + ")");
            }

            Turns trainTurns = timeInTurn(worker, peers, steps, WARMUP_TRAIN, true);
            Turns inferTurns = timeInTurn(worker, peers, steps, WARMUP_INFER, false);
            double[] train = trainTurns.seconds(), infer = inferTurns.seconds();
            long rss = worker.peakRss();
            long[] peerRss = new long[peers.size()];
            double tokens = (double) BATCH * SEQ;
            double[] peerTrain = new double[peers.size()], peerInfer = new double[peers.size()];
            for (int i = 0; i < peers.size(); i++) {
                E2eChannel p = peers.get(i);
                peerRss[i] = p == null ? -1 : p.peakRss();
                peerTrain[i] = tokens / train[i + 1];
                peerInfer[i] = tokens / infer[i + 1];
            }
            MethodResult r = new MethodResult(method, trainable, configs, tokens / train[0], peerTrain, tokens / infer[0], peerInfer,
                    rss, peerRss, lossDiff, logitsDiff, losses.toString(), trainTurns.allocatedPerStep(), inferTurns.allocatedPerStep());
            out.printf("[%s] train tokens/s peft4j %.0f, torch %s; infer peft4j %.0f, torch %s; peak RSS peft4j %s, torch %s%n",
                    method, r.trainTokens(), perConfig(configs, peerTrain), r.inferTokens(), perConfig(configs, peerInfer), mb(rss),
                    perConfigMb(configs, peerRss));
            out.printf("[%s] peft4j allocates %s per training step and %s per inference pass on the Java heap%n", method,
                    mb(r.allocTrain()), mb(r.allocInfer()));
            return r;
        } catch (IOException e) {
            out.println("[" + method + "] failed: " + e.getMessage());
            return null;
        } finally {
            for (E2eChannel p : peers) if (p != null) p.close();
            deleteTree(dir);
        }
    }

    private static Map<String, Object> setupRequest(String method, WeightStorage storage, int batch, int seq, Path exportDir) {
        Map<String, Object> setup = new LinkedHashMap<>();
        setup.put("op", "setup");
        setup.put("method", method);
        setup.put("storage", storage.name());
        setup.put("batch", batch);
        setup.put("seq", seq);
        setup.put("export", exportDir.toString());
        return setup;
    }

    /** Median seconds per step of every process (peft4j first; NaN for a missing peer) and peft4j's heap bytes allocated per step. */
    record Turns(double[] seconds, long allocatedPerStep) {}

    /**
     * Warms every process up, then takes {@code steps} one-step samples from each in turn, peft4j's
     * worker first.
     */
    private static Turns timeInTurn(E2eChannel worker, List<E2eChannel> peers, int steps, int warmup, boolean training)
            throws IOException {
        List<E2eChannel> all = new ArrayList<>();
        all.add(worker);
        all.addAll(peers);
        for (E2eChannel c : all) {
            if (c == null) continue;
            // the peers' interpreter has nothing to compile: one step suffices for them
            int n = c == worker ? warmup : Math.min(1, warmup);
            if (n == 0) continue;
            if (training) c.train(n);
            else c.infer(n);
        }
        double[][] samples = new double[all.size()][steps];
        long[] allocated = new long[steps];
        for (int s = 0; s < steps; s++) {
            for (int i = 0; i < all.size(); i++) {
                E2eChannel c = all.get(i);
                if (c == null) {
                    samples[i][s] = Double.NaN;
                    continue;
                }
                settle();
                E2eChannel.Samples one = training ? c.train(1) : c.infer(1);
                samples[i][s] = one.seconds()[0];
                if (i == 0) allocated[s] = one.allocatedPerStep();
            }
        }
        double[] medians = new double[all.size()];
        for (int i = 0; i < all.size(); i++) medians[i] = median(samples[i]);
        return new Turns(medians, Arrays.stream(allocated).min().orElse(-1));
    }

    private static E2eChannel startPeer(PeerConfig c, Path script, Path dir, PrintStream out) {
        E2eChannel p = null;
        try {
            List<String> cmd = List.of(PeerPython.command(), script.toString(), String.valueOf(c.torchThreads()));
            p = E2eChannel.start("PyTorch peer " + c.name(), cmd, Map.of("OPENBLAS_NUM_THREADS", String.valueOf(c.blasThreads()),
                    "OMP_NUM_THREADS", String.valueOf(c.torchThreads())));
            JsonNode hello = p.ask(Map.of("op", "hello"));
            p.ask(Map.of("op", "load", "dir", dir.toString()));
            out.printf("  torch %s = %s: torch %s, %s (OpenBLAS reports %s thread(s), torch %s)%n", c.name(), c.describe(),
                    hello.path("torch").asText(), hello.path("blas").asText(), hello.path("openblas_threads").asText("?"),
                    hello.path("torch_threads").asText("?"));
            return p;
        } catch (IOException e) {
            out.println("  torch " + c.name() + " could not start: " + e.getMessage());
            if (p != null) p.close();
            return null;
        }
    }

    // ------------------------------------------------------------------ scaling

    /**
     * Tokens/s of {@link #SCALING_METHOD} at 1 and 2 threads over batch × length shapes, peft4j next
     * to PyTorch (1 thread: torch and OpenBLAS at 1; 2 threads: the configuration that trained this
     * methods faster above, else A).
     */
    private static List<Map<String, Object>> scalingTable(WeightStorage storage, Path script, List<MethodResult> results, PrintStream out) {
        List<Map<String, Object>> rows = new ArrayList<>();
        PeerConfig two = PEER_CONFIGS.get(0);
        for (MethodResult r : results) {
            if (!Double.isNaN(r.bestPeerTrain())) two = r.peers().get(argmax(r.peerTrainTokens()));
        }
        out.printf("%nScaling (%s): tokens/s by threads and batch × length, median of %d samples after %d warm-up step(s); load average %s%n",
                SCALING_METHOD, SCALING_STEPS, SCALING_WARMUP, loadAverage());
        Path dir = null;
        List<E2eChannel> peers = new ArrayList<>();
        try (E2eChannel worker = E2eChannel.startWorker("peft4j worker (scaling)")) {
            dir = Files.createTempDirectory("peft4j-e2e-scaling");
            worker.ask(setupRequest(SCALING_METHOD, storage, SCALING_SHAPES[0][0], SCALING_SHAPES[0][1], dir));
            for (PeerConfig c : List.of(PEER_ONE_THREAD, two)) peers.add(script == null ? null : startPeer(c, script, dir, out));
            out.printf("%-10s %7s %11s %11s %6s %11s %11s %6s%n", "batch×len", "threads", "p4j train", "torch train", "ratio",
                    "p4j infer", "torch infer", "ratio");
            for (int t = 1; t <= 2; t++) {
                worker.ask(Map.of("op", "threads", "n", t));
                E2eChannel peer = peers.get(t - 1);
                for (int[] shape : SCALING_SHAPES) {
                    int b = shape[0], s = shape[1];
                    worker.shape(b, s, E2eWorkload.SEED);
                    if (peer != null) peer.shape(b, s, E2eWorkload.SEED);
                    List<E2eChannel> side = Arrays.asList(peer);
                    double[] train = timeInTurn(worker, side, SCALING_STEPS, SCALING_WARMUP, true).seconds();
                    double[] infer = timeInTurn(worker, side, SCALING_STEPS, SCALING_WARMUP, false).seconds();
                    double tokens = (double) b * s;
                    double pt = tokens / train[0], tt = tokens / train[1], pi = tokens / infer[0], ti = tokens / infer[1];
                    out.printf("%-10s %7d %11.0f %11s %6s %11.0f %11s %6s%n", b + "×" + s, t, pt, num(tt), ratio(pt, tt), pi, num(ti), ratio(pi, ti));
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("table", "scaling");
                    row.put("method", SCALING_METHOD);
                    row.put("batch", b);
                    row.put("seq", s);
                    row.put("threads", t);
                    row.put("torch_config", peer == null ? null : (t == 1 ? PEER_ONE_THREAD : two).describe());
                    row.put("train_tokens_s", round(pt));
                    row.put("torch_train_tokens_s", nullable(tt));
                    row.put("train_ratio", ratioValue(pt, tt));
                    row.put("infer_tokens_s", round(pi));
                    row.put("torch_infer_tokens_s", nullable(ti));
                    row.put("infer_ratio", ratioValue(pi, ti));
                    row.put("rss_ratio", null);
                    rows.add(row);
                }
            }
        } catch (IOException e) {
            out.println("scaling failed: " + e.getMessage());
        } finally {
            for (E2eChannel p : peers) if (p != null) p.close();
            deleteTree(dir);
        }
        return rows;
    }

    // ------------------------------------------------------------------ output

    private static void printMethodTable(List<MethodResult> results, PrintStream out) {
        out.printf("%nPer method (PyTorch: the faster of its configurations timed for the method, per metric; RSS: the lower of its processes)%n");
        out.printf("%-19s %9s %9s %6s %9s %9s %6s %8s %8s %6s %7s%n", "method", "train p4j", "torch", "ratio", "infer p4j", "torch",
                "ratio", "RSS p4j", "torch", "ratio", "check");
        for (MethodResult r : results) {
            double pt = r.bestPeerTrain(), pi = r.bestPeerInfer();
            long pr = r.peerRssMin();
            out.printf("%-19s %9.0f %9s %6s %9.0f %9s %6s %8s %8s %6s %7s%n", r.method(), r.trainTokens(), num(pt), ratio(r.trainTokens(), pt),
                    r.inferTokens(), num(pi), ratio(r.inferTokens(), pi), mb(r.rss()), mb(pr),
                    pr > 0 && r.rss() > 0 ? String.format("%.2f", (double) r.rss() / pr) : "-",
                    !r.checked() ? "-" : r.checkPassed() ? "ok" : "FAILED");
        }
        out.println("ratios are peft4j / PyTorch: above 1 is faster for tokens/s, below 1 is smaller for RSS");
    }

    private static Map<String, Object> methodRow(MethodResult r) {
        Map<String, Object> row = new LinkedHashMap<>();
        double pt = r.bestPeerTrain(), pi = r.bestPeerInfer();
        long pr = r.peerRssMin();
        row.put("table", "methods");
        row.put("method", r.method());
        row.put("spec", E2eWorkload.SPECS.get(r.method()));
        row.put("batch", BATCH);
        row.put("seq", SEQ);
        row.put("trainable", r.trainable());
        row.put("train_tokens_s", round(r.trainTokens()));
        row.put("torch_train_tokens_s", nullable(pt));
        row.put("train_ratio", ratioValue(r.trainTokens(), pt));
        row.put("infer_tokens_s", round(r.inferTokens()));
        row.put("torch_infer_tokens_s", nullable(pi));
        row.put("infer_ratio", ratioValue(r.inferTokens(), pi));
        row.put("rss_bytes", r.rss());
        row.put("alloc_train_bytes_per_step", r.allocTrain() >= 0 ? r.allocTrain() : null);
        row.put("alloc_infer_bytes_per_step", r.allocInfer() >= 0 ? r.allocInfer() : null);
        row.put("torch_rss_bytes", pr > 0 ? pr : null);
        row.put("rss_ratio", pr > 0 && r.rss() > 0 ? Math.round(1000.0 * r.rss() / pr) / 1000.0 : null);
        Map<String, Object> configs = new LinkedHashMap<>();
        for (int i = 0; i < r.peers().size(); i++) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("config", r.peers().get(i).describe());
            c.put("train_tokens_s", nullable(r.peerTrainTokens()[i]));
            c.put("infer_tokens_s", nullable(r.peerInferTokens()[i]));
            c.put("rss_bytes", r.peerRss()[i] > 0 ? r.peerRss()[i] : null);
            configs.put(r.peers().get(i).name(), c);
        }
        row.put("torch_configs", configs);
        row.put("check_loss_rel_diff", r.checked() ? r.lossDiff() : null);
        row.put("check_logits_rel_diff", r.checked() ? r.logitsDiff() : null);
        row.put("check_passed", r.checked() ? r.checkPassed() : null);
        row.put("check_losses", r.losses());
        return row;
    }

    private static boolean writeJson(Path json, List<Map<String, Object>> rows, PrintStream out) {
        try {
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), rows);
            out.println("wrote " + json);
            return true;
        } catch (IOException e) {
            out.println("could not write " + json + ": " + e.getMessage());
            return false;
        }
    }

    // ------------------------------------------------------------------ helpers

    static double maxRelDiff(double[] a, double[] b) {
        if (a.length != b.length) return Double.POSITIVE_INFINITY;
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-30));
        return worst;
    }

    /** max |a − b| / max |b|: the difference relative to the values' scale, so near-zero entries do not dominate. */
    static double scaledMaxDiff(double[] a, double[] b) {
        if (a.length != b.length) return Double.POSITIVE_INFINITY;
        double diff = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff / Math.max(scale, 1e-30);
    }

    static double median(double[] v) {
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static void settle() {
        try {
            Thread.sleep(SETTLE_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null) return;
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover temp folder is harmless
        }
    }

    private static double max(double[] v) {
        double m = Double.NaN;
        for (double x : v) if (!Double.isNaN(x) && (Double.isNaN(m) || x > m)) m = x;
        return m;
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (!Double.isNaN(v[i]) && (Double.isNaN(v[best]) || v[i] > v[best])) best = i;
        return best;
    }

    private static String fmt(double[] losses) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < losses.length; i++) sb.append(i == 0 ? "" : ", ").append(String.format("%.6f", losses[i]));
        return sb.append("]").toString();
    }

    private static String perConfig(List<PeerConfig> configs, double[] v) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < v.length; i++) parts.add(configs.get(i).name() + " " + num(v[i]));
        return parts.isEmpty() ? "-" : String.join(" / ", parts);
    }

    private static String perConfigMb(List<PeerConfig> configs, long[] v) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < v.length; i++) parts.add(configs.get(i).name() + " " + mb(v[i]));
        return parts.isEmpty() ? "-" : String.join(" / ", parts);
    }

    private static String num(double v) { return Double.isNaN(v) ? "-" : String.format("%.0f", v); }

    private static String ratio(double ours, double theirs) {
        return Double.isNaN(theirs) ? "-" : String.format("%.2f", ours / theirs);
    }

    private static Double ratioValue(double ours, double theirs) {
        return Double.isNaN(theirs) ? null : Math.round(1000 * ours / theirs) / 1000.0;
    }

    private static String mb(long bytes) { return bytes > 0 ? String.format("%.0f MB", bytes / 1e6) : "-"; }

    private static Double nullable(double v) { return Double.isNaN(v) ? null : round(v); }

    private static double round(double v) { return Math.round(v * 10) / 10.0; }
}
