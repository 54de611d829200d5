package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.adapters.PeftModel;
import org.peft4j.adapters.formats.AdapterFiles;
import org.peft4j.models.ModelLoader;
import org.peft4j.models.ModelSource;
import org.peft4j.models.PretrainedModel;

/** {@code fuse} over two saved bottleneck adapters on the built-in MiniLM, then {@code eval} of the fusion run. */
class FuseCommandTest {
    private static final String MODEL = "builtin:all-minilm-l6-v2";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void trainsTheFusionAndEvalLoadsItBack(@TempDir Path tmp) throws IOException {
        try (PretrainedModel pm = ModelSource.resolve(MODEL).load(ModelLoader.WeightStorage.AS_STORED)) {
            PeftModel peft = new PeftModel(pm.model(), pm.config());
            for (String name : List.of("sotu", "afinn")) {
                peft.addAdapter(name, "seq_bn[reduction_factor=32]", name.length());
                AdapterFiles.save(peft, name, tmp.resolve(name));
            }
        }
        Path data = Cli.spamHamJsonl(tmp, 8);
        Path out = tmp.resolve("fused");
        Cli r = Cli.run("fuse", "--model", MODEL, "--adapters", tmp.resolve("sotu") + "," + tmp.resolve("afinn"), "--data", data.toString(),
                "--epochs", "1", "--batch-size", "4", "--max-length", "32", "--output", out.toString()).ok();
        assertTrue(r.out.contains("fusion   Fuse(sotu, afinn)"), r.out);
        for (String f : List.of("adapters/sotu/adapter.safetensors", "adapters/afinn/adapter_config.json", "adapter/adapter.safetensors",
                "adapter/head.safetensors", "metrics.json", "run.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        JsonNode m = JSON.readTree(out.resolve("metrics.json").toFile());
        // fusion layers: query and key (384×384 + 384 each) and value (384×384) at 6 sites, plus the head
        assertEquals(6 * (3 * 384 * 384 + 2 * 384) + 384 * 2 + 2, m.get("trainable_parameters").asLong());
        JsonNode info = JSON.readTree(out.resolve("run.json").toFile());
        assertEquals(2, info.get("fused").size());

        JsonNode e = JSON.readTree(Cli.run("eval", "--adapter", out.toString(), "--json").ok().out);
        assertEquals(m.get("accuracy").asDouble(), e.get("metrics").get("accuracy").asDouble(), 1e-9);
        assertEquals(m.get("loss").asDouble(), e.get("metrics").get("loss").asDouble(), 1e-5);
    }

    @Test
    void needsTwoAdapters(@TempDir Path tmp) throws IOException {
        Files.createDirectories(tmp.resolve("one"));
        Files.writeString(tmp.resolve("one/adapter_config.json"), "{}");
        Cli r = Cli.run("fuse", "--adapters", tmp.resolve("one").toString(), "--data", "d", "--output", tmp.resolve("o").toString());
        assertEquals(1, r.exitCode);
        assertTrue(r.err.contains("at least two adapters"), r.err);
    }
}
