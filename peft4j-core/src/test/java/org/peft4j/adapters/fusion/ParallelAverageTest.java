package org.peft4j.adapters.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.Location;
import org.peft4j.adapters.MethodRegistry;
import org.peft4j.adapters.bottleneck.AdapterHubCases;
import org.peft4j.adapters.bottleneck.BottleneckAdapter;
import org.peft4j.adapters.bottleneck.BottleneckConfig;
import org.peft4j.adapters.bottleneck.BottleneckSite;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.autograd.GradMode;
import org.peft4j.models.ForwardState;
import org.peft4j.nn.LayerNorm;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/**
 * {@code Parallel} and {@code Average} on whole models (the AdapterHub fixture bases with the compose
 * folder's adapters a, b) and at one site.
 */
class ParallelAverageTest {
    @ParameterizedTest
    @ValueSource(strings = {"bert", "llama"})
    void parallelReplicatesTheBatchOneCopyPerAdapter(String arch) throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch); var s = GradMode.noGrad()) {
            loadAdapters(b, arch);
            Tensor a = run(b, "a"), bOnly = run(b, "b"), c = run(b, "c");
            Tensor par = run(b, "Parallel(a, b, c)");
            int rows = a.size(0);
            assertArrayEquals(new int[] {3 * rows, a.size(1), a.size(2)}, par.shape(), "N·B rows");
            assertClose(a, par.narrow(0, 0, rows), 1e-5, arch + " copy 0 = a alone");
            assertClose(bOnly, par.narrow(0, rows, rows), 1e-5, arch + " copy 1 = b alone");
            assertClose(c, par.narrow(0, 2 * rows, rows), 1e-5, arch + " copy 2 = c alone");
            Tensor nested = run(b, "Stack(a, Parallel(b, c))");
            assertClose(run(b, "Stack(a, b)"), nested.narrow(0, 0, rows), 1e-5, arch + " Stack(a, Parallel(b, c)) copy 0");
            assertClose(run(b, "Stack(a, c)"), nested.narrow(0, rows, rows), 1e-5, arch + " Stack(a, Parallel(b, c)) copy 1");
        }
    }

    @Test
    void averageOfOneAdapterWithItselfIsThatAdapter() throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base("bert"); var s = GradMode.noGrad()) {
            loadAdapters(b, "bert");
            assertClose(run(b, "a"), run(b, "Average(a, a; 0.3, 0.7)"), 1e-6, "Average(a, a) = a");
        }
    }

    /** With {@code original_ln_after=false} the site returns the combined hidden states themselves, so Average is visibly Σ w_i·out_i. */
    @Test
    void averageIsTheNormalisedWeightedSumOfSingleAdapterOutputs() {
        int batch = 2, t = 5, d = 8;
        BottleneckConfig c = (BottleneckConfig) MethodRegistry.parse("seq_bn[reduction_factor=2,original_ln_after=false]").get(0);
        AdapterContext context = new AdapterContext();
        BottleneckSite site = new BottleneckSite(context, 0, Location.FFN);
        for (String n : new String[] {"a", "b", "c"}) site.add(n, BottleneckAdapter.create(c, d, 4, null, new SplittableRandom(n.hashCode())));
        Tensor h = GradCheck.randn(1, batch, t, d).detach().to(org.peft4j.tensor.DType.F32);
        Tensor x = GradCheck.randn(2, batch, t, d).detach().to(org.peft4j.tensor.DType.F32);
        LayerNorm ln = new LayerNorm(Tensor.ones(d), Tensor.zeros(d), 1e-12);
        ForwardState pass = new ForwardState(null, null, false, null);
        context.setActive(Composition.parse("a"));
        Tensor a = site.apply(h, x, ln, pass);
        context.setActive(Composition.parse("b"));
        Tensor bOut = site.apply(h, x, ln, pass);
        context.setActive(Composition.parse("c"));
        Tensor cOut = site.apply(h, x, ln, pass);
        context.setActive(Composition.parse("Average(a, b, c; 1, 2, 5)"));
        Tensor avg = site.apply(h, x, ln, pass);
        Tensor want = Elementwise.add(Elementwise.add(Elementwise.scale(a, 1 / 8.0), Elementwise.scale(bOut, 2 / 8.0)), Elementwise.scale(cOut, 5 / 8.0));
        assertClose(want, avg, 1e-6, "Average(a, b, c; 1, 2, 5)");
    }

    private static void loadAdapters(AdapterHubCases.Base b, String arch) throws IOException {
        Path dir = AdapterHubCases.caseDir(arch, "compose");
        for (String n : new String[] {"a", "b", "c"}) AdapterFiles.load(b.model(), dir.resolve(n), null);
    }

    private static Tensor run(AdapterHubCases.Base b, String composition) {
        b.model().setActive(composition);
        return AdapterHubCases.forward(b);
    }

    static void assertClose(Tensor want, Tensor got, double tol, String what) {
        double err = AdapterHubCases.relError(got.contiguous(), want.contiguous(), 0);
        assertTrue(err <= tol, what + ": relative error " + err);
    }
}
