package org.peft4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.models.ModelLoader.WeightStorage;

/**
 * The end-to-end bench's pieces: its statistics, its method specs, and the PyTorch peer computing
 * the same losses as peft4j from an export (on a small batch; skipped where no python3 with torch is
 * installed).
 */
class E2ePeerTest {
    @Test
    void statistics() {
        assertEquals(2.0, E2eBench.median(new double[] {3, 1, 2}));
        assertEquals(2.5, E2eBench.median(new double[] {4, 1, 2, 3}));
        assertEquals(0.5, E2eBench.maxRelDiff(new double[] {1, 3}, new double[] {1, 2}), 1e-12);
        // relative to the largest value, so a near-zero entry does not dominate
        assertEquals(0.01, E2eBench.scaledMaxDiff(new double[] {0.011, 1}, new double[] {0.001, 1}), 1e-12);
    }

    @Test
    void everySpecParses() {
        for (String spec : E2eWorkload.SPECS.values()) assertEquals(1, MethodRegistry.parse(spec).size(), spec);
    }

    @Test
    void peerTrainsLikePeft4j(@TempDir Path dir) throws Exception {
        String python = PeerPython.command();
        assumeTrue(python != null, () -> "no PyTorch peer: " + PeerPython.unavailableReason());
        Path script = PeerPython.extract(E2eBench.PEER_SCRIPT);
        try (E2eChannel peer = E2eChannel.start("peer", List.of(python, script.toString(), "1"),
                Map.of("OPENBLAS_NUM_THREADS", "1", "OMP_NUM_THREADS", "1"))) {
            for (String method : List.of("double_seq_bn", "prefix_tuning_flat")) {
                E2eWorkload work = new E2eWorkload(method, WeightStorage.BF16, 4, 16);
                Path export = dir.resolve(method);
                work.export(export);
                assertTrue(Files.size(export.resolve(E2eWorkload.TENSORS_FILE)) > 40_000_000, "the base weights are exported");
                peer.ask(Map.of("op", "load", "dir", export.toString()));
                double[] ours = new double[2];
                for (int i = 0; i < ours.length; i++) ours[i] = work.trainStep();
                double[] theirs = peer.train(2).losses();
                assertArrayEquals(ours, theirs, 1e-4 * Math.abs(ours[0]), method + " losses");
                assertTrue(E2eBench.scaledMaxDiff(work.infer().contiguous().toDoubleArray(), peer.logits()) < 1e-4, method + " logits");
            }
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
