package org.peft4j.adapters.bottleneck;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.Tensor;

/**
 * AdapterHub's composition fixtures over three {@code seq_bn[reduction_factor=4]} adapters a, b, c:
 * {@code Stack(a, b)} and {@code BatchSplit(a, b, batch_sizes=[1, B-1])}.
 */
class BottleneckComposeFixtureTest {
    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "llama"})
    void stackAndBatchSplitMatchAdapterHub(String arch) throws IOException {
        try (AdapterHubCases.Base b = AdapterHubCases.base(arch);
             SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(AdapterHubCases.caseDir(arch, "compose").resolve("expected_compose.safetensors"));
             var s = GradMode.noGrad()) {
            for (String n : new String[] {"a", "b", "c"}) AdapterHubCases.load(b.model(), AdapterHubCases.caseDir(arch, "compose").resolve(n));
            b.model().setActive("Stack(a, b)");
            double stack = AdapterHubCases.relError(AdapterHubCases.forward(b), expected.tensor("stack_ab"), 0);
            int batch = b.inputs().get("input_ids").size(0);
            b.model().setActive("BatchSplit(a, b; 1, " + (batch - 1) + ")");
            double split = AdapterHubCases.relError(AdapterHubCases.forward(b), expected.tensor("batchsplit_ab"), 0);
            System.out.printf("%s/compose: stack_ab %.2e, batchsplit_ab %.2e%n", arch, stack, split);
            assertTrue(stack <= AdapterHubCases.OUTPUT_TOL, arch + " Stack(a, b) relative error " + stack);
            assertTrue(split <= AdapterHubCases.OUTPUT_TOL, arch + " BatchSplit(a, b) relative error " + split);
        }
    }
}
