package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.peft4j.models.ModelLoader.WeightStorage;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** {@code --dtype bf16}: matrices kept in bf16 (half the memory), results still those of the f32 checkpoint. */
class WeightStorageTest {
    /** bf16 keeps 8 significant bits (relative rounding 2^-9 per weight); two layers stay well within 1e-2. */
    private static final double BF16_TOL = 1e-2;

    @ParameterizedTest
    @ValueSource(strings = {"bert", "roberta", "gpt2", "llama", "qwen2"})
    void bf16FixtureModelMatchesTheFixtureOutput(String arch) throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs(arch);
        Tensor expected = FixtureModels.expectedOutput(arch);
        try (PretrainedModel pm = ModelLoader.load(FixtureModels.base(arch), WeightStorage.BF16)) {
            long bf16 = 0, f32 = 0, linears = 0;
            for (Map.Entry<String, Module> e : pm.model().namedModules().entrySet()) {
                if (e.getValue() instanceof Linear l) {
                    linears++;
                    assertEquals(DType.BF16, l.weight().dtype(), e.getKey() + ".weight");
                    if (l.bias() != null) assertEquals(DType.F32, l.bias().dtype(), e.getKey() + ".bias");
                }
                if (e.getValue() instanceof Embedding emb) assertEquals(DType.BF16, emb.weight().dtype(), e.getKey());
            }
            assertTrue(linears >= 8, "found " + linears + " linear layers");
            for (Tensor p : pm.model().namedParameters().values()) {
                if (p.dtype() == DType.BF16) bf16 += p.numel();
                else f32 += p.numel();
            }
            assertTrue(bf16 > 20 * f32, "nearly all parameters are bf16: " + bf16 + " vs " + f32 + " f32");
            double err = FixtureModels.relError(FixtureModels.forward(pm, in), expected);
            assertTrue(err < BF16_TOL, arch + ": bf16 output rel. error " + err);
            assertTrue(err > 1e-7, arch + ": the weights were not rounded at all (" + err + ")");
        }
    }

    @Test
    void f32StorageAndAsStoredKeepF32FixturesExact() throws IOException {
        Map<String, Tensor> in = FixtureModels.inputs("llama");
        Tensor expected = FixtureModels.expectedOutput("llama");
        for (WeightStorage s : new WeightStorage[] {WeightStorage.AS_STORED, WeightStorage.F32}) {
            try (PretrainedModel pm = ModelLoader.load(FixtureModels.base("llama"), s)) {
                pm.model().namedParameters().values().forEach(p -> assertEquals(DType.F32, p.dtype()));
                assertTrue(FixtureModels.relError(FixtureModels.forward(pm, in), expected) < 1e-4);
            }
        }
    }

    @Test
    void storageConvertsOnlyWhatItMust() {
        Tensor matrix = Tensor.zeros(4, 3);
        Tensor vector = Tensor.zeros(3);
        Tensor ids = Tensor.zeros(DType.I64, 3);
        assertSame(matrix, WeightStorage.AS_STORED.apply(matrix));
        assertSame(matrix, WeightStorage.F32.apply(matrix));
        assertEquals(DType.BF16, WeightStorage.BF16.apply(matrix).dtype());
        assertSame(vector, WeightStorage.BF16.apply(vector));
        assertSame(ids, WeightStorage.BF16.apply(ids));
        assertEquals(DType.F32, WeightStorage.F32.apply(Tensor.zeros(DType.BF16, 2, 2)).dtype());
        assertEquals(DType.F32, WeightStorage.BF16.apply(Tensor.zeros(DType.F16, 2)).dtype());
    }

    @Test
    void bulkBf16ConversionRoundsExactlyAsTheTensorDoes() {
        java.util.Random r = new java.util.Random(5);
        float[] v = new float[3 * 70_001];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(12) - 6));
        // ties to even, infinities, NaN, signed zero, the largest float
        float[] special = {Float.intBitsToFloat(0x3f808000), Float.intBitsToFloat(0x3f818000), Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, -0f, Float.MAX_VALUE, Float.MIN_VALUE};
        System.arraycopy(special, 0, v, 0, special.length);
        Tensor t = Tensor.of(v, 3, 70_001);
        // a contiguous view that starts inside its storage, as tensors inside a safetensors file do
        Tensor view = t.narrow(0, 1, 2);
        for (Tensor x : new Tensor[] {t, view}) {
            Tensor bulk = WeightStorage.BF16.apply(x);
            Tensor reference = x.detachedCopy(DType.BF16);
            assertEquals(DType.BF16, bulk.dtype());
            assertArrayEquals(x.shape(), bulk.shape());
            for (long i = 0; i < x.numel(); i++) {
                assertEquals(Double.doubleToRawLongBits(reference.getFlat(i)), Double.doubleToRawLongBits(bulk.getFlat(i)),
                        "element " + i + " of " + x.getFlat(i));
            }
        }
    }

    @Test
    void dtypeOptionParses() {
        assertEquals(WeightStorage.BF16, WeightStorage.parse("bf16"));
        assertEquals(WeightStorage.BF16, WeightStorage.parse("BFloat16"));
        assertEquals(WeightStorage.F32, WeightStorage.parse("f32"));
        assertEquals(WeightStorage.AS_STORED, WeightStorage.parse("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightStorage.parse("int4"));
        assertTrue(e.getMessage().contains("int4") && e.getMessage().contains("bf16"), e.getMessage());
    }
}
