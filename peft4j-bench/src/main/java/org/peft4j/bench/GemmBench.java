package org.peft4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.kernels.Gemm;

/**
 * GFLOP/s of peft4j's {@link Gemm} against OpenBLAS sgemm on the shapes of a hidden-384 encoder
 * layer (MiniLM/bge-small sized, M = 2048 tokens): both measured in the same run, on the same shapes, layouts and thread counts,
 * their timing samples interleaved. OpenBLAS is timed through torch.mm by {@link GemmOpenBlasPeer}.
 */
public final class GemmBench {
    static final int M = 2048;
    /** (N, K) pairs: attention projections, FFN in, FFN out, fused QKV. */
    static final int[][] SHAPES = {{384, 384}, {1536, 384}, {384, 1536}, {1152, 384}};
    static final String[] VARIANTS = {"NN", "NT", "TN"};
    static final int[] THREADS = {1, 2};
    static final double WARMUP_S = 0.5;
    static final int SAMPLES = 9;
    static final double SAMPLE_S = 0.06;

    private GemmBench() {}

    public static void main(String[] args) {
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--json") && i + 1 < args.length) json = Path.of(args[++i]);
            else throw new IllegalArgumentException("usage: GemmBench [--json FILE]");
        }
        System.exit(run(json, System.out));
    }

    /**
     * Runs the benchmark, prints the table to {@code out} and, when {@code jsonOrNull} is given, writes
     * the rows there as JSON. Returns 0 on success, 1 when the JSON file could not be written.
     */
    public static int run(Path jsonOrNull, PrintStream out) {
        out.printf("GEMM C[%d×N] = A·B, float32, GFLOP/s: median of %d samples of ~%.0f ms after %.1f s warm-up,%n"
                + "peft4j and OpenBLAS samples alternating so both see the same machine load%n",
                M, SAMPLES, SAMPLE_S * 1000, WARMUP_S);
        String noPeer = GemmOpenBlasPeer.unavailableReason();
        if (noPeer != null) out.println("OpenBLAS peer: none — " + noPeer + "; peft4j's numbers are printed alone");
        warmUpCompiler();
        int savedThreads = Parallel.threads();
        List<Map<String, Object>> rows = new ArrayList<>();
        double worst2 = Double.POSITIVE_INFINITY;
        try {
            for (int t : THREADS) {
                Parallel.setThreads(t);
                GemmOpenBlasPeer peer = startPeer(t, out);
                out.printf("%-16s %-7s %7s %10s %10s %7s%n", "shape MxNxK", "variant", "threads", "peft4j", "openblas", "ratio");
                try {
                    for (int[] nk : SHAPES) {
                        for (String variant : VARIANTS) {
                            double[] gflops = measure(M, nk[0], nk[1], variant, peer);
                            if (peer != null && Double.isNaN(gflops[1])) {
                                out.println("OpenBLAS peer stopped answering; continuing with peft4j alone");
                                peer.close();
                                peer = null;
                            }
                            double ours = gflops[0], theirs = gflops[1], ratio = ours / theirs;
                            boolean compared = !Double.isNaN(theirs);
                            String shape = M + "x" + nk[0] + "x" + nk[1];
                            out.printf("%-16s %-7s %7d %10.1f %10s %7s%n", shape, variant, t, ours,
                                    compared ? String.format("%.1f", theirs) : "-", compared ? String.format("%.2f", ratio) : "-");
                            if (t == 2 && compared) worst2 = Math.min(worst2, ratio);
                            Map<String, Object> row = new LinkedHashMap<>();
                            row.put("shape", shape);
                            row.put("m", M);
                            row.put("n", nk[0]);
                            row.put("k", nk[1]);
                            row.put("variant", variant);
                            row.put("threads", t);
                            row.put("peft4j_gflops", round(ours));
                            row.put("openblas_gflops", compared ? round(theirs) : null);
                            row.put("ratio", compared ? Math.round(ratio * 1000) / 1000.0 : null);
                            rows.add(row);
                        }
                    }
                } finally {
                    if (peer != null) peer.close();
                }
            }
        } finally {
            Parallel.setThreads(savedThreads);
        }
        if (worst2 != Double.POSITIVE_INFINITY) out.printf("worst 2-thread ratio peft4j/OpenBLAS: %.2f%n", worst2);
        else out.println("no OpenBLAS numbers: peft4j measured alone");
        if (jsonOrNull != null) {
            try {
                Path parent = jsonOrNull.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(jsonOrNull.toFile(), rows);
                out.println("wrote " + jsonOrNull);
            } catch (IOException e) {
                out.println("could not write " + jsonOrNull + ": " + e.getMessage());
                return 1;
            }
        }
        return 0;
    }

    private static GemmOpenBlasPeer startPeer(int threads, PrintStream out) {
        try {
            GemmOpenBlasPeer peer = GemmOpenBlasPeer.start(threads);
            if (peer != null) out.println("OpenBLAS peer at " + threads + " thread(s): " + peer.description);
            return peer;
        } catch (IOException e) {
            out.println("OpenBLAS peer could not start at " + threads + " thread(s): " + e.getMessage());
            return null;
        }
    }

    /**
     * Median GFLOP/s of peft4j's GEMM and of the peer (NaN without one, or when it fails) on one shape
     * and layout at the current thread count, their samples taken in turn.
     */
    static double[] measure(int m, int n, int k, String variant, GemmOpenBlasPeer peer) {
        boolean transA = variant.charAt(0) == 'T', transB = variant.charAt(1) == 'T';
        Random random = new Random(1);
        float[] a = randomArray(random, m * k), b = randomArray(random, k * n), c = new float[m * n];
        int lda = transA ? m : k, ldb = transB ? k : n;
        Runnable call = () -> Gemm.sgemm(transA, transB, m, n, k, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, n);
        int iters = warmUp(call);
        boolean withPeer = peer != null;
        try {
            if (withPeer) peer.prepare(m, n, k, variant, WARMUP_S, SAMPLE_S);
        } catch (IOException e) {
            withPeer = false;
        }
        double[] ours = new double[SAMPLES], theirs = new double[SAMPLES];
        for (int s = 0; s < SAMPLES; s++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < iters; i++) call.run();
            ours[s] = (System.nanoTime() - t0) / 1e9 / iters;
            if (withPeer) {
                try {
                    theirs[s] = peer.sample();
                } catch (IOException e) {
                    withPeer = false;
                }
            }
        }
        double flops = 2.0 * m * n * k;
        return new double[] {flops / median(ours) / 1e9, withPeer ? flops / median(theirs) / 1e9 : Double.NaN};
    }

    /**
     * Gets every GEMM path compiled by the JIT before the first timed shape, so that row does not pay
     * for compilation (C2's threads would also compete with the workers for the cores).
     */
    private static void warmUpCompiler() {
        Random random = new Random(2);
        int m = 512, n = 384, k = 384;
        float[] a = randomArray(random, m * k), b = randomArray(random, k * n), c = new float[m * n];
        long end = System.nanoTime() + (long) (3 * WARMUP_S * 1e9);
        while (System.nanoTime() < end) {
            for (String variant : VARIANTS) {
                boolean transA = variant.charAt(0) == 'T', transB = variant.charAt(1) == 'T';
                Gemm.sgemm(transA, transB, m, n, k, 1f, a, 0, transA ? m : k, b, 0, transB ? k : n, 0f, c, 0, n);
            }
        }
    }

    /** Runs {@code call} for the warm-up time; returns how many calls make one sample of about SAMPLE_S. */
    private static int warmUp(Runnable call) {
        long start = System.nanoTime(), end = start + (long) (WARMUP_S * 1e9);
        int calls = 0;
        while (System.nanoTime() < end || calls < 3) {
            call.run();
            calls++;
        }
        double perCall = (System.nanoTime() - start) / 1e9 / calls;
        return Math.max(1, (int) (SAMPLE_S / perCall));
    }

    private static double median(double[] v) {
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static float[] randomArray(Random random, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = random.nextFloat();
        return v;
    }

    private static double round(double v) { return Math.round(v * 10) / 10.0; }
}
