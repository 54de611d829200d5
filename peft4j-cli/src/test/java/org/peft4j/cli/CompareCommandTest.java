package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code compare} of two methods on a 16-example file, each trained in its own JVM for a couple of steps. */
class CompareCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void trainsEachMethodAndWritesTheReport(@TempDir Path tmp) throws Exception {
        Path data = Cli.spamHamJsonl(tmp, 8);
        Path out = tmp.resolve("cmp");
        String[] args = {"compare", "--model", "builtin:all-minilm-l6-v2", "--data", data.toString(), "--methods", "bitfit,lora[r=2,alpha=4]",
            "--epochs", "1", "--batch-size", "6", "--max-length", "16", "--output", out.toString()};
        Cli r = Cli.run(args).ok();
        assertTrue(r.out.contains("=== [1/2] bitfit"), r.out);
        assertTrue(r.out.contains("step 2/2"), "the runs' progress passes through: " + r.out);

        JsonNode results = JSON.readTree(out.resolve("results.json").toFile()).get("results");
        assertEquals(2, results.size());
        for (JsonNode n : results) {
            assertEquals("ok", n.get("status").asText(), n.toString());
            assertTrue(n.get("test").has("accuracy"), n.toString());
            assertTrue(n.get("trainable_parameters").asLong() > 0);
            assertTrue(n.get("peak_rss_bytes").asLong() > 0);
            assertTrue(n.get("loss_curve").size() > 0);
        }
        assertEquals(0.01, results.get(0).get("lr").asDouble(), "bitfit's default rate");
        assertTrue(Files.isRegularFile(out.resolve("runs/lora_r=2_alpha=4/metrics.json")));
        List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertEquals(3, csv.size());
        assertTrue(csv.get(2).startsWith("\"lora[r=2,alpha=4]\",ok,0.001,"), csv.get(2));

        String html = Files.readString(out.resolve("report.html"));
        Matcher svg = Pattern.compile("<svg .*?</svg>", Pattern.DOTALL).matcher(html);
        int charts = 0;
        while (svg.find()) {
            DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(new ByteArrayInputStream(svg.group().getBytes(StandardCharsets.UTF_8)));
            charts++;
        }
        assertEquals(4, charts);

        Cli again = Cli.run(resume(args)).ok();
        assertEquals(2, again.out.split("already trained; kept", -1).length - 1, again.out);
    }

    private static String[] resume(String[] args) {
        String[] out = java.util.Arrays.copyOf(args, args.length + 1);
        out[args.length] = "--resume";
        return out;
    }

    @Test
    void aFailingMethodIsReportedAndTheOthersGoOn(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("cmp");
        Cli r = Cli.run("compare", "--model", "builtin:all-minilm-l6-v2", "--data", tmp.resolve("missing.jsonl").toString(),
                "--methods", "bitfit", "--output", out.toString());
        assertEquals(1, r.exitCode);
        JsonNode n = JSON.readTree(out.resolve("results.json").toFile()).get("results").get(0);
        assertEquals("failed", n.get("status").asText());
        assertTrue(n.get("error").asText().contains("missing.jsonl"), n.toString());
    }
}
