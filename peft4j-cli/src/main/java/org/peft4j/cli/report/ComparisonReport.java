package org.peft4j.cli.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.peft4j.io.AtomicFiles;

/**
 * The files of a method comparison: {@value #JSON_FILE} (everything, for programs), {@value #CSV_FILE}
 * (one row per method, for spreadsheets) and {@value #HTML_FILE}, a self-contained page (inline CSS and
 * SVG, no script, nothing fetched) with the results table and four charts: the test metric against
 * trainable parameters on a log axis, training time, peak memory, and the training loss curves.
 *
 * @param title    what was compared, e.g. {@code builtin:spam-assassin on builtin:all-minilm-l6-v2}
 * @param settings the shared budget and data, by name, shown above the table
 * @param results  one per method, in the order given
 */
public record ComparisonReport(String title, Map<String, String> settings, List<MethodResult> results) {
    public static final String JSON_FILE = "results.json";
    public static final String CSV_FILE = "results.csv";
    public static final String HTML_FILE = "report.html";
    private static final ObjectMapper JSON = new ObjectMapper();

    public ComparisonReport {
        settings = new LinkedHashMap<>(settings);
        results = List.copyOf(results);
    }

    /** Writes the three files into {@code dir}, each atomically. */
    public void write(Path dir) throws IOException {
        AtomicFiles.writeString(dir.resolve(JSON_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json()) + "\n");
        AtomicFiles.writeString(dir.resolve(CSV_FILE), csv());
        AtomicFiles.writeString(dir.resolve(HTML_FILE), html());
    }

    /** The test metrics that occur in any result, in first-seen order. */
    List<String> metricNames() {
        Set<String> names = new LinkedHashSet<>();
        for (MethodResult r : results) names.addAll(r.test().keySet());
        return List.copyOf(names);
    }

    ObjectNode json() {
        ObjectNode root = JSON.createObjectNode();
        root.put("title", title);
        ObjectNode s = root.putObject("settings");
        settings.forEach(s::put);
        ArrayNode runs = root.putArray("results");
        for (MethodResult r : results) {
            ObjectNode n = runs.addObject();
            n.put("method", r.method());
            n.put("run", r.run());
            n.put("status", r.succeeded() ? "ok" : "failed");
            if (!r.succeeded()) n.put("error", r.error());
            n.put("lr", r.lr());
            if (r.metric() != null) n.put("metric", r.metric());
            ObjectNode t = n.putObject("test");
            r.test().forEach((k, v) -> putNumber(t, k, v));
            n.put("trainable_parameters", r.trainableParameters());
            n.put("total_parameters", r.totalParameters());
            putNumber(n, "trainable_percent", r.trainablePercent());
            putNumber(n, "wall_seconds", r.wallSeconds());
            n.put("peak_rss_bytes", r.peakRssBytes());
            n.put("adapter_bytes", r.adapterBytes());
            ArrayNode curve = n.putArray("loss_curve");
            for (double[] p : r.lossCurve()) curve.addArray().add(p[0]).add(p[1]);
        }
        return root;
    }

    private static void putNumber(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v);
        else n.putNull(key);
    }

    String csv() {
        List<String> metrics = metricNames();
        StringBuilder b = new StringBuilder("method,status,lr");
        for (String m : metrics) b.append(',').append(m);
        b.append(",trainable_parameters,total_parameters,trainable_percent,wall_seconds,peak_rss_mb,adapter_kb,run\n");
        for (MethodResult r : results) {
            b.append(csvField(r.method())).append(',').append(r.succeeded() ? "ok" : "failed").append(',').append(r.lr());
            for (String m : metrics) b.append(',').append(csvNumber(r.test().getOrDefault(m, Double.NaN), "%.6f"));
            b.append(',').append(r.trainableParameters()).append(',').append(r.totalParameters())
                    .append(',').append(csvNumber(r.trainablePercent(), "%.4f"))
                    .append(',').append(csvNumber(r.wallSeconds(), "%.1f"))
                    .append(',').append(csvNumber(r.peakRssBytes() / 1048576.0, "%.0f"))
                    .append(',').append(csvNumber(r.adapterBytes() / 1024.0, "%.1f"))
                    .append(',').append(csvField(r.run())).append('\n');
        }
        return b.toString();
    }

    /** A field quoted as RFC 4180 wants when it holds a comma, quote or line break. */
    static String csvField(String s) {
        if (s == null) return "";
        return s.matches("[^,\"\r\n]*") ? s : "\"" + s.replace("\"", "\"\"") + "\"";
    }

    private static String csvNumber(double v, String format) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "";
    }

    String html() {
        List<MethodResult> ok = results.stream().filter(MethodResult::succeeded).toList();
        String metric = ok.stream().map(MethodResult::metric).filter(m -> m != null).findFirst().orElse("accuracy");
        List<Charts.Point> points = new ArrayList<>();
        List<Charts.Bar> times = new ArrayList<>(), memory = new ArrayList<>();
        List<Charts.Series> curves = new ArrayList<>();
        for (MethodResult r : ok) {
            points.add(new Charts.Point(r.method(), r.trainableParameters(), r.score()));
            times.add(new Charts.Bar(r.method(), r.wallSeconds()));
            memory.add(new Charts.Bar(r.method(), r.peakRssBytes() / 1048576.0));
            curves.add(new Charts.Series(r.method(), r.lossCurve()));
        }
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
                .append(esc("peft4j compare: " + title)).append("</title>\n<style>\n")
                .append("body{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}\n")
                .append("table{border-collapse:collapse;margin:1em 0;font-size:14px}\n")
                .append("th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}\n")
                .append("th:first-child,td:first-child{text-align:left}\n")
                .append("td.failed{color:#b00;text-align:left}\n.charts svg{display:block;margin:1.5em 0}\n")
                .append("dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:14px}\n")
                .append("dt{font-weight:bold}dd{margin:0}\n</style>\n</head>\n<body>\n");
        b.append("<h1>").append(esc(title)).append("</h1>\n<dl>\n");
        settings.forEach((k, v) -> b.append("<dt>").append(esc(k)).append("</dt><dd>").append(esc(v)).append("</dd>\n"));
        b.append("<dt>generated</dt><dd>").append(esc(ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME))).append("</dd>\n</dl>\n");
        table(b);
        b.append("<div class=\"charts\">\n")
                .append(Charts.logScatter("Test " + metric + " against trainable parameters", "trainable parameters (log scale)", metric, points)).append('\n')
                .append(Charts.bars("Training time (training and evaluation)", "seconds", times, v -> Charts.number(Math.round(v * 10) / 10.0) + " s")).append('\n')
                .append(Charts.bars("Peak memory (resident set of the run)", "MB", memory, v -> String.format(Locale.ROOT, "%.0f MB", v))).append('\n')
                .append(Charts.lines("Training loss", "optimizer step", "mean loss since the previous point", curves)).append('\n')
                .append("</div>\n</body>\n</html>\n");
        return b.toString();
    }

    private void table(StringBuilder b) {
        List<String> metrics = metricNames();
        b.append("<table>\n<tr><th>method</th><th>lr</th>");
        for (String m : metrics) b.append("<th>").append(esc(m)).append("</th>");
        b.append("<th>trainable</th><th>share</th><th>time</th><th>peak memory</th><th>adapter file</th></tr>\n");
        for (MethodResult r : results) {
            b.append("<tr><td>").append(esc(r.method())).append("</td><td>").append(Charts.number(r.lr())).append("</td>");
            if (!r.succeeded()) {
                b.append("<td class=\"failed\" colspan=\"").append(metrics.size() + 5).append("\">failed: ")
                        .append(esc(r.error())).append("</td></tr>\n");
                continue;
            }
            for (String m : metrics) {
                Double v = r.test().get(m);
                b.append("<td>").append(v == null || !Double.isFinite(v) ? "" : String.format(Locale.ROOT, "%.4f", v)).append("</td>");
            }
            b.append("<td>").append(String.format(Locale.ROOT, "%,d", r.trainableParameters())).append("</td>")
                    .append("<td>").append(String.format(Locale.ROOT, "%.2f%%", r.trainablePercent())).append("</td>")
                    .append("<td>").append(String.format(Locale.ROOT, "%.1f s", r.wallSeconds())).append("</td>")
                    .append("<td>").append(String.format(Locale.ROOT, "%.0f MB", r.peakRssBytes() / 1048576.0)).append("</td>")
                    .append("<td>").append(String.format(Locale.ROOT, "%.1f KB", r.adapterBytes() / 1024.0)).append("</td></tr>\n");
        }
        b.append("</table>\n");
    }

    private static String esc(String s) { return Charts.Svg.escape(s); }
}
