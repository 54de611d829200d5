package org.peft4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * OpenBLAS sgemm timed through torch.mm in a Python subprocess (the script ships as a resource and
 * is driven line by line), so that GemmBench can alternate its own samples with OpenBLAS's and both
 * see the same machine load. One process per thread count, started with {@code
 * OPENBLAS_NUM_THREADS} set: Debian's torch reaches OpenBLAS through the generic BLAS interface, and
 * torch.set_num_threads does not change OpenBLAS's pool.
 */
final class GemmOpenBlasPeer implements AutoCloseable {
    private static final String SCRIPT = "/peer/gemm_openblas.py";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final Path script;
    private final BufferedWriter requests;
    private final BufferedReader replies;
    /** What the peer reported about itself: torch version, BLAS library, OpenBLAS thread count. */
    final String description;

    private GemmOpenBlasPeer(Process process, Path script) throws IOException {
        this.process = process;
        this.script = script;
        this.requests = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
        this.replies = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        JsonNode hello = ask(Map.of("op", "hello"));
        this.description = "torch " + hello.path("torch").asText() + ", " + hello.path("blas").asText()
                + ", OpenBLAS reports " + hello.path("openblas_threads").asText("?") + " thread(s)";
    }

    /** Why there is no peer, or null when python3 with torch was found. */
    static String unavailableReason() { return PeerPython.unavailableReason(); }

    /** Starts a peer whose OpenBLAS uses {@code threads} threads; null (reason in {@link #unavailableReason}) if none. */
    static GemmOpenBlasPeer start(int threads) throws IOException {
        String python = PeerPython.command();
        if (python == null) return null;
        Path script = PeerPython.extract(SCRIPT);
        ProcessBuilder pb = new ProcessBuilder(python, script.toString(), String.valueOf(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(threads));
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        try {
            return new GemmOpenBlasPeer(p, script);
        } catch (IOException e) {
            p.destroy();
            PeerPython.delete(script);
            throw e;
        }
    }

    /** Allocates the operands of one shape and layout, warms up, and sizes a sample to about sampleS. */
    void prepare(int m, int n, int k, String variant, double warmupS, double sampleS) throws IOException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("op", "prepare");
        req.put("m", m);
        req.put("n", n);
        req.put("k", k);
        req.put("variant", variant);
        req.put("warmup_s", warmupS);
        req.put("sample_s", sampleS);
        ask(req);
    }

    /** Seconds per torch.mm call over one sample of the prepared shape. */
    double sample() throws IOException {
        return ask(Map.of("op", "sample")).path("seconds").asDouble();
    }

    private JsonNode ask(Map<String, Object> request) throws IOException {
        requests.write(JSON.writeValueAsString(request));
        requests.newLine();
        requests.flush();
        String line = replies.readLine();
        if (line == null) throw new IOException("the OpenBLAS peer exited (see its messages above)");
        JsonNode reply = JSON.readTree(line);
        if (reply.has("error")) throw new IOException("OpenBLAS peer: " + reply.get("error").asText());
        return reply;
    }

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
        } finally {
            PeerPython.delete(script);
        }
    }
}
