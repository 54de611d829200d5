package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.data.TaskType;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;
import org.peft4j.models.heads.Pooling;
import org.peft4j.tensor.Tensor;
import org.peft4j.tokenizer.Encoding;
import org.peft4j.train.TaskModel;

/** {@code merge} on the built-in MiniLM: the merged checkpoint computes what base + adapter computed. */
class MergeCommandTest {
    private static final String MODEL = "builtin:all-minilm-l6-v2";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A LoRA adapter whose B matrices are random (a fresh one adds nothing), saved with a head as train saves it. */
    private static float[] saveTrainedLikeAdapter(Path dir, Encoding input) throws IOException {
        try (PretrainedModel pm = ModelSource.resolve(MODEL).load(ModelLoader.WeightStorage.AS_STORED)) {
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            peft.addAdapter("default", "lora[r=4,alpha=8,target_modules=query|value]", 1);
            SplittableRandom rng = new SplittableRandom(5);
            for (Map.Entry<String, Tensor> e : peft.adapterParameters("default").entrySet()) {
                if (!e.getKey().contains("lora_B")) continue;
                float[] v = new float[(int) e.getValue().numel()];
                for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextDouble(-0.05, 0.05));
                peft.assign(e.getKey(), Tensor.of(v, e.getValue().shape()));
            }
            TaskModel task = TaskModel.create(peft, "default", TaskType.CLASSIFICATION, List.of("ham", "spam"), Pooling.MEAN, 0.1, 3);
            task.trainMode(false);
            task.save(dir, null);
            return peft.encode(input.inputIds(), input.attentionMask(), input.tokenTypeIds(), null).contiguous().floats();
        }
    }

    @Test
    void mergedCheckpointLoadsAndMatchesTheAdaptedModel(@TempDir Path tmp) throws IOException {
        Encoding input = ModelSource.resolve(MODEL).tokenizer().encodeBatch(List.of("The meeting moved to Tuesday.",
                "Claim your free prize now, click here!"), 24);
        Path adapter = tmp.resolve("adapter");
        float[] expected = saveTrainedLikeAdapter(adapter, input);

        Path merged = tmp.resolve("merged");
        Cli r = Cli.run("merge", "--model", MODEL, "--adapter", adapter.toString(), "--output", merged.toString()).ok();
        assertTrue(r.out.contains("merged   adapter 'default' (lora) into 12 linear layers"), r.out);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "head_config.json", "head.safetensors", "run.json")) {
            assertTrue(Files.isRegularFile(merged.resolve(f)), f);
        }
        assertFalse(Files.exists(merged.resolve("adapter_config.json")), "no adapter left to load");

        try (PretrainedModel pm = ModelLoader.load(merged)) {
            assertFalse(pm.model().namedParameters().keySet().stream().anyMatch(n -> n.contains("lora") || n.contains("base_layer")));
            float[] actual = new PeftModel(pm.model(), pm.config()).encode(input.inputIds(), input.attentionMask(), input.tokenTypeIds(), null)
                    .contiguous().floats();
            double maxDiff = 0, maxAbs = 0;
            for (int i = 0; i < expected.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
                maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            }
            assertTrue(maxDiff / maxAbs < 1e-4, "merged output off by " + maxDiff + " of " + maxAbs);
        }

        // the kept head makes the merged folder an adapter for predict, with the same answers
        JsonNode viaAdapter = JSON.readTree(Cli.run("predict", "--model", MODEL, "--adapter", adapter.toString(), "--json", "Free money!").ok().out);
        JsonNode viaMerged = JSON.readTree(Cli.run("predict", "--adapter", merged.toString(), "--json", "Free money!").ok().out);
        assertEquals(viaAdapter.get("probability").asDouble(), viaMerged.get("probability").asDouble(), 1e-4);
    }

    @Test
    void refusesAdaptersOutsideLinearLayers(@TempDir Path tmp) throws IOException {
        try (PretrainedModel pm = ModelSource.resolve(MODEL).load(ModelLoader.WeightStorage.AS_STORED)) {
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            peft.addAdapter("bn", "seq_bn", 1);
            AdapterFiles.save(peft, "bn", tmp.resolve("bn"));
        }
        Cli r = Cli.run("merge", "--model", MODEL, "--adapter", tmp.resolve("bn").toString(), "--output", tmp.resolve("out").toString());
        assertEquals(1, r.exitCode);
        assertTrue(r.err.contains("cannot be folded into weights"), r.err);
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }
}
