package org.peft4j.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.GradMode;
import org.peft4j.io.safetensors.SafetensorsCheckpoint;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Decoding with a KV cache: exact against full forwards, greedy and seeded sampling as Hugging Face's generate(). */
class GenerationTest {
    private static final int STEPS = 8;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama", "qwen2"})
    void cachedDecodingGivesTheLogitsOfAFullForward(String arch) throws IOException {
        try (PretrainedModel pm = ModelLoader.load(FixtureModels.base(arch))) {
            CausalLm lm = (CausalLm) pm.model();
            long[] prompt = prompt(arch);
            // two rows, so the cache's batch dimension is exercised too
            int b = 2, t = prompt.length;
            long[] rows = new long[b * t];
            for (int j = 0; j < t; j++) {
                rows[j] = prompt[j];
                rows[t + j] = prompt[t - 1 - j];
            }
            try (var s = GradMode.noGrad()) {
                KvCache cache = new KvCache(lm.numLayers());
                long[] seq = rows;
                int len = t;
                Tensor step = Tensor.of(rows, b, t);
                for (int i = 0; i < STEPS; i++) {
                    Tensor cached = lastPosition(lm.forward(step, ones(b, step.size(1)), cache, null));
                    Tensor full = lastPosition(lm.forward(Tensor.of(seq, b, len), ones(b, len), null, null));
                    double err = FixtureModels.relError(cached, full);
                    assertTrue(err < 1e-5, arch + " step " + i + ": cached vs full logits rel. error " + err);
                    assertEquals(len, cache.length());
                    // feed each row's greedy token
                    long[] next = new long[b];
                    for (int r = 0; r < b; r++) next[r] = Generator.argmax(full.narrow(0, r, 1).contiguous().toFloatArray());
                    long[] grown = new long[b * (len + 1)];
                    for (int r = 0; r < b; r++) {
                        System.arraycopy(seq, r * len, grown, r * (len + 1), len);
                        grown[r * (len + 1) + len] = next[r];
                    }
                    seq = grown;
                    len++;
                    step = Tensor.of(next, b, 1);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void samplingIsDeterministicPerSeedAndDegeneratesToGreedy(String arch) throws IOException {
        try (PretrainedModel pm = ModelLoader.load(FixtureModels.base(arch))) {
            CausalLm lm = (CausalLm) pm.model();
            long[] prompt = prompt(arch);
            long[] greedy = Generator.generate(lm, prompt, GenerationConfig.greedy(STEPS, List.of()));
            assertEquals(prompt.length + STEPS, greedy.length);
            assertArrayEquals(prompt, java.util.Arrays.copyOf(greedy, prompt.length), "the prompt is kept");

            GenerationConfig sampled = new GenerationConfig(STEPS, 1.0, 50, 0.95, 42, List.of());
            assertArrayEquals(Generator.generate(lm, prompt, sampled), Generator.generate(lm, prompt, sampled),
                    "same seed, same tokens");
            assertArrayEquals(greedy, Generator.generate(lm, prompt, new GenerationConfig(STEPS, 1.0, 1, 1.0, 7, List.of())),
                    "top-k = 1 is greedy");
            assertArrayEquals(greedy, Generator.generate(lm, prompt, new GenerationConfig(STEPS, 1.0, 0, 1e-6, 7, List.of())),
                    "a tiny top-p keeps only the most likely token");

            Set<List<Long>> outcomes = new HashSet<>();
            for (long seed = 0; seed < 8; seed++) {
                long[] out = Generator.generate(lm, prompt, new GenerationConfig(STEPS, 2.0, 0, 1.0, seed, List.of()));
                outcomes.add(java.util.Arrays.stream(out).boxed().toList());
            }
            assertTrue(outcomes.size() > 1, "different seeds give different continuations");
        }
    }

    @Test
    void greedyMatchesTransformersAndStopsAtEos() throws IOException {
        try (PretrainedModel pm = ModelLoader.load(FixtureModels.base("llama"));
             SafetensorsCheckpoint g = SafetensorsCheckpoint.open(FixtureModels.base("llama").resolve("generate.safetensors"))) {
            long[] prompt = g.tensor("prompt").toLongArray();
            long[] want = g.tensor("generated").toLongArray();
            CausalLm lm = (CausalLm) pm.model();
            assertArrayEquals(want, Generator.generate(lm, prompt, GenerationConfig.greedy(want.length - prompt.length, List.of())));
            int eos = (int) want[prompt.length + 2];
            int firstEos = prompt.length;
            while (want[firstEos] != eos) firstEos++;
            long[] stopped = Generator.generate(lm, prompt, GenerationConfig.greedy(20, List.of(eos)));
            assertArrayEquals(java.util.Arrays.copyOf(want, firstEos + 1), stopped, "stops right after the first eos");
        }
    }

    @Test
    void samplerFollowsTemperatureTopKAndTopP() {
        // probabilities 1/7, 2/7, 4/7
        float[] logits = {0f, (float) Math.log(2), (float) Math.log(4)};
        assertFrequencies(logits, new GenerationConfig(1, 1.0, 0, 1.0, 1, List.of()), 1 / 7.0, 2 / 7.0, 4 / 7.0);
        // temperature 0.5 squares them: 1, 4, 16 over 21
        assertFrequencies(logits, new GenerationConfig(1, 0.5, 0, 1.0, 2, List.of()), 1 / 21.0, 4 / 21.0, 16 / 21.0);
        // top-k 2 renormalises over the two best: 1/3, 2/3
        assertFrequencies(logits, new GenerationConfig(1, 1.0, 2, 1.0, 3, List.of()), 0, 1 / 3.0, 2 / 3.0);
        // top-p: 4/7 >= 0.5 keeps one token; 0.6 needs the second as well
        assertFrequencies(logits, new GenerationConfig(1, 1.0, 0, 0.5, 4, List.of()), 0, 0, 1);
        assertFrequencies(logits, new GenerationConfig(1, 1.0, 0, 0.6, 5, List.of()), 0, 1 / 3.0, 2 / 3.0);
    }

    @Test
    void invalidSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(-1, 0, 0, 1, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(4, -0.5, 0, 1, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(4, 1, 0, 0, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new GenerationConfig(4, 1, -1, 1, 0, List.of()));
    }

    private static void assertFrequencies(float[] logits, GenerationConfig g, double... expected) {
        int n = 40_000;
        int[] counts = new int[logits.length];
        SplittableRandom rng = new SplittableRandom(g.seed());
        for (int i = 0; i < n; i++) counts[Generator.sample(logits, g, rng)]++;
        for (int k = 0; k < logits.length; k++) {
            assertEquals(expected[k], counts[k] / (double) n, 0.01, "token " + k + " with " + g);
        }
    }

    private static long[] prompt(String arch) throws IOException {
        try (SafetensorsCheckpoint g = SafetensorsCheckpoint.open(FixtureModels.base(arch).resolve("generate.safetensors"))) {
            return g.tensor("prompt").toLongArray();
        }
    }

    private static Tensor lastPosition(Tensor logits) {
        int b = logits.size(0), v = logits.size(2);
        return logits.narrow(1, logits.size(1) - 1, 1).reshape(b, v).contiguous();
    }

    private static Tensor ones(int b, int t) { return Tensor.full(DType.I64, 1, b, t); }
}
