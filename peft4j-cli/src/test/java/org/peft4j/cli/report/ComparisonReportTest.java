package org.peft4j.cli.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

class ComparisonReportTest {
    private static final Pattern SVG = Pattern.compile("<svg .*?</svg>", Pattern.DOTALL);

    static MethodResult result(String method, double accuracy, long trainable, double seconds, long rssMb) {
        List<double[]> curve = List.of(new double[] {5, 0.69}, new double[] {10, 0.4}, new double[] {15, 0.2});
        Map<String, Double> test = new LinkedHashMap<>();
        test.put("accuracy", accuracy);
        test.put("macro_f1", accuracy - 0.01);
        test.put("loss", 0.1);
        return new MethodResult(method, method.replaceAll("\\W", "_"), null, 1e-3, "accuracy", test, trainable, 22_700_000 + trainable,
                seconds, rssMb << 20, trainable * 4, curve);
    }

    private static ComparisonReport report() {
        List<MethodResult> results = new ArrayList<>(List.of(
                result("seq_bn", 0.97, 113_810, 120.5, 900),
                result("lora[r=8,alpha=16]", 0.965, 74_498, 110, 850),
                result("bitfit", 0.951, 103_000, 95, 820),
                result("prompt_tuning <&>", 0.90, 8_450, 80, 800)));
        results.add(MethodResult.failed("prefix_tuning", "prefix_tuning", 1e-2, "the training loss became NaN at step 3"));
        return new ComparisonReport("builtin:spam-assassin on builtin:all-minilm-l6-v2",
                Map.of("model", "builtin:all-minilm-l6-v2", "budget", "--epochs 1 --train-limit 1600"), results);
    }

    /** Every SVG element of the page, parsed as XML (which fails on anything malformed). */
    static List<Document> svgs(String html) throws Exception {
        List<Document> out = new ArrayList<>();
        Matcher m = SVG.matcher(html);
        var factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        while (m.find()) out.add(factory.newDocumentBuilder().parse(new ByteArrayInputStream(m.group().getBytes(StandardCharsets.UTF_8))));
        return out;
    }

    @Test
    void writesASelfContainedPageWithFourValidCharts(@TempDir Path dir) throws Exception {
        report().write(dir);
        String html = Files.readString(dir.resolve(ComparisonReport.HTML_FILE));
        assertTrue(html.startsWith("<!DOCTYPE html>"), html.substring(0, 40));
        assertFalse(html.contains("<script"), "no script");
        assertFalse(html.matches("(?s).*(src|href)=\"https?:.*"), "nothing fetched");
        List<Document> charts = svgs(html);
        assertEquals(4, charts.size());
        for (Document d : charts) assertEquals("http://www.w3.org/2000/svg", d.getDocumentElement().getNamespaceURI());
        // the scatter: one circle per successful method, on a log axis labelled in decades
        Document scatter = charts.get(0);
        assertEquals(4, scatter.getElementsByTagName("circle").getLength());
        String scatterText = scatter.getDocumentElement().getTextContent();
        for (String tick : List.of("1K", "10K", "100K", "1M")) assertTrue(scatterText.contains(tick), tick + " in " + scatterText);
        assertTrue(scatterText.contains("prompt_tuning <&>"), "labels are escaped, not lost");
        // the time and memory bars: one bar per successful method
        assertEquals(4, charts.get(1).getElementsByTagName("rect").getLength());
        assertEquals(4, charts.get(2).getElementsByTagName("rect").getLength());
        // the loss curves: one polyline per method
        assertEquals(4, charts.get(3).getElementsByTagName("polyline").getLength());
        assertTrue(html.contains("failed: the training loss became NaN at step 3"), "failed runs are listed");
    }

    @Test
    void theLogAxisPlacesDecadesEvenly() throws Exception {
        String svg = Charts.logScatter("t", "x", "y", List.of(new Charts.Point("a", 1_000, 0.5), new Charts.Point("b", 100_000, 0.9),
                new Charts.Point("c", 10_000, 0.7)));
        Document d = svgs(svg).get(0);
        var circles = d.getElementsByTagName("circle");
        double a = Double.parseDouble(((org.w3c.dom.Element) circles.item(0)).getAttribute("cx"));
        double b = Double.parseDouble(((org.w3c.dom.Element) circles.item(1)).getAttribute("cx"));
        double c = Double.parseDouble(((org.w3c.dom.Element) circles.item(2)).getAttribute("cx"));
        assertEquals(c - a, b - c, 0.2, "10K sits halfway between 1K and 100K");
    }

    @Test
    void writesJsonAndCsvRows(@TempDir Path dir) throws IOException {
        report().write(dir);
        JsonNode json = new ObjectMapper().readTree(dir.resolve(ComparisonReport.JSON_FILE).toFile());
        assertEquals(5, json.get("results").size());
        JsonNode lora = json.get("results").get(1);
        assertEquals("lora[r=8,alpha=16]", lora.get("method").asText());
        assertEquals(0.965, lora.get("test").get("accuracy").asDouble());
        assertEquals(74_498, lora.get("trainable_parameters").asLong());
        assertEquals(3, lora.get("loss_curve").size());
        assertEquals("failed", json.get("results").get(4).get("status").asText());

        List<String> csv = Files.readAllLines(dir.resolve(ComparisonReport.CSV_FILE));
        assertEquals(6, csv.size());
        assertEquals("method,status,lr,accuracy,macro_f1,loss,trainable_parameters,total_parameters,trainable_percent,wall_seconds,"
                + "peak_rss_mb,adapter_kb,run", csv.get(0));
        assertTrue(csv.get(2).startsWith("\"lora[r=8,alpha=16]\",ok,0.001,0.965000,0.955000,0.100000,74498,"), csv.get(2));
        assertTrue(csv.get(5).startsWith("prefix_tuning,failed,0.01,,,,0,0,"), csv.get(5));
    }

    @Test
    void emptyChartsSayWhy() throws Exception {
        String svg = Charts.lines("Training loss", "step", "loss", List.of());
        assertTrue(svgs(svg).get(0).getDocumentElement().getTextContent().contains("no curves to plot"));
    }

    @Test
    void numbersAndCountsReadWell() {
        assertEquals("114K", Charts.countLabel(113_810));
        assertEquals("1.5M", Charts.countLabel(1_500_000));
        assertEquals("22M", Charts.countLabel(22_000_000));
        assertEquals("950", Charts.countLabel(950));
        assertEquals("0.95", Charts.number(0.95));
        assertEquals("1", Charts.number(1.0));
        double[] r = Charts.niceRange(0.87, 0.97);
        assertTrue(r[0] <= 0.87 && r[1] >= 0.97 && r[2] > 0, java.util.Arrays.toString(r));
    }
}
