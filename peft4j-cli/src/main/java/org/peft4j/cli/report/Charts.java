package org.peft4j.cli.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * The report's charts as inline SVG (no script, no external resource): a scatter plot over a log axis,
 * horizontal bars and line curves. Every chart is a standalone {@code <svg>} element with a title, its
 * axes labelled and its marks named in {@code <title>} tooltips.
 */
public final class Charts {
    /** Distinguishable colours (Tableau 10), cycled by series. */
    static final List<String> PALETTE = List.of("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#bab0ac");
    private static final int WIDTH = 640;
    private static final int LEFT = 70, RIGHT = 20, TOP = 36, BOTTOM = 48;

    private Charts() {}

    /** One labelled point. */
    public record Point(String label, double x, double y) {}

    /** One labelled bar. */
    public record Bar(String label, double value) {}

    /** One named curve of (x, y) points in x order. */
    public record Series(String name, List<double[]> points) {}

    /** The colour of series or point {@code i}. */
    public static String color(int i) { return PALETTE.get(i % PALETTE.size()); }

    /**
     * A scatter plot with a base-10 logarithmic x axis (e.g. trainable parameters) and a linear y axis
     * (e.g. accuracy); each point is labelled beside it. Points with x ≤ 0 or non-finite values are left out.
     */
    public static String logScatter(String title, String xLabel, String yLabel, List<Point> points) {
        List<Point> shown = points.stream().filter(p -> p.x() > 0 && Double.isFinite(p.x()) && Double.isFinite(p.y())).toList();
        int height = 360;
        Svg svg = new Svg(WIDTH, height, title);
        if (shown.isEmpty()) return svg.empty("no results to plot");
        double lo = Math.floor(Math.log10(shown.stream().mapToDouble(Point::x).min().orElseThrow()));
        double hi = Math.ceil(Math.log10(shown.stream().mapToDouble(Point::x).max().orElseThrow()));
        if (hi == lo) hi = lo + 1;
        double yMin = shown.stream().mapToDouble(Point::y).min().orElseThrow(), yMax = shown.stream().mapToDouble(Point::y).max().orElseThrow();
        double[] yRange = niceRange(yMin, yMax);
        // scores in [0, 1] (accuracy, F1) end the axis at 1, where the range would otherwise overshoot
        if (yMin >= 0 && yMax <= 1) yRange[1] = Math.min(yRange[1], 1);
        Frame f = new Frame(WIDTH, height, lo, hi, yRange[0], yRange[1]);
        for (double d = lo; d <= hi; d++) svg.xTick(f, d, countLabel(Math.pow(10, d)));
        for (double v : ticks(yRange)) svg.yTick(f, v, number(v));
        svg.axes(f, xLabel, yLabel);
        for (int i = 0; i < shown.size(); i++) {
            Point p = shown.get(i);
            double x = f.x(Math.log10(p.x())), y = f.y(p.y());
            svg.add(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\"><title>%s: %s, %s</title></circle>",
                    x, y, color(i), Svg.escape(p.label()), countLabel(p.x()), number(p.y())));
            boolean leftSide = x > WIDTH - RIGHT - 140;
            svg.add(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\">%s</text>",
                    leftSide ? x - 9 : x + 9, y - 8, leftSide ? "end" : "start", Svg.escape(p.label())));
        }
        return svg.finish();
    }

    /** Horizontal bars, one per label, each with its value written by {@code format} at its end. */
    public static String bars(String title, String valueLabel, List<Bar> bars, DoubleFunction<String> format) {
        int row = 26;
        int height = TOP + BOTTOM + Math.max(1, bars.size()) * row;
        Svg svg = new Svg(WIDTH, height, title);
        if (bars.isEmpty()) return svg.empty("no results to plot");
        int labelWidth = 150;
        double max = bars.stream().mapToDouble(Bar::value).filter(Double::isFinite).max().orElse(0);
        double scaleMax = max > 0 ? niceRange(0, max)[1] : 1;
        double x0 = labelWidth + 10, span = WIDTH - RIGHT - 70 - x0;
        for (int i = 0; i < bars.size(); i++) {
            Bar b = bars.get(i);
            double y = TOP + i * row;
            double w = Double.isFinite(b.value()) ? Math.max(0, b.value() / scaleMax * span) : 0;
            svg.add(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%s</text>",
                    labelWidth, y + row * 0.62, Svg.escape(shorten(b.label(), 24))));
            svg.add(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s: %s</title></rect>",
                    x0, y + 4, w, row - 8, color(i), Svg.escape(b.label()), Svg.escape(format.apply(b.value()))));
            svg.add(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>",
                    x0 + w + 6, y + row * 0.62, Svg.escape(format.apply(b.value()))));
        }
        svg.add(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                x0 + span / 2, height - 14, Svg.escape(valueLabel)));
        return svg.finish();
    }

    /** Line curves over a shared linear x and y axis, with a legend of the series' names. */
    public static String lines(String title, String xLabel, String yLabel, List<Series> series) {
        int height = 380;
        Svg svg = new Svg(WIDTH, height, title);
        List<double[]> all = new ArrayList<>();
        for (Series s : series) for (double[] p : s.points()) if (Double.isFinite(p[0]) && Double.isFinite(p[1])) all.add(p);
        if (all.isEmpty()) return svg.empty("no curves to plot");
        double[] xRange = niceRange(0, all.stream().mapToDouble(p -> p[0]).max().orElseThrow());
        double[] yRange = niceRange(Math.min(0, all.stream().mapToDouble(p -> p[1]).min().orElseThrow()),
                all.stream().mapToDouble(p -> p[1]).max().orElseThrow());
        Frame f = new Frame(WIDTH, height, xRange[0], xRange[1], yRange[0], yRange[1]);
        for (double v : ticks(xRange)) svg.xTick(f, v, number(v));
        for (double v : ticks(yRange)) svg.yTick(f, v, number(v));
        svg.axes(f, xLabel, yLabel);
        for (int i = 0; i < series.size(); i++) {
            Series s = series.get(i);
            StringBuilder path = new StringBuilder();
            for (double[] p : s.points()) {
                if (!Double.isFinite(p[0]) || !Double.isFinite(p[1])) continue;
                path.append(String.format(Locale.ROOT, "%.1f,%.1f ", f.x(p[0]), f.y(p[1])));
            }
            if (!path.isEmpty()) {
                svg.add(String.format(Locale.ROOT, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"><title>%s</title></polyline>",
                        path.toString().trim(), color(i), Svg.escape(s.name())));
            }
            double ly = TOP + 4 + i * 16;
            svg.add(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"12\" height=\"3\" fill=\"%s\"/>", WIDTH - RIGHT - 170, ly + 4, color(i)));
            svg.add(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\">%s</text>", WIDTH - RIGHT - 152, ly + 9,
                    Svg.escape(shorten(s.name(), 24))));
        }
        return svg.finish();
    }

    /** A range around [lo, hi] with round ends (steps of 1, 2 or 5 times a power of ten), never empty. */
    static double[] niceRange(double lo, double hi) {
        if (hi < lo) throw new IllegalArgumentException("range [" + lo + ", " + hi + "] is empty");
        if (hi == lo) {
            double pad = lo == 0 ? 1 : Math.abs(lo) * 0.1;
            lo -= pad;
            hi += pad;
        }
        double step = niceStep((hi - lo) / 5);
        return new double[] {Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step};
    }

    private static double niceStep(double rough) {
        double power = Math.pow(10, Math.floor(Math.log10(rough)));
        double m = rough / power;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
    }

    private static List<Double> ticks(double[] range) {
        List<Double> out = new ArrayList<>();
        for (int i = 0; range[0] + i * range[2] <= range[1] + range[2] * 1e-9; i++) out.add(range[0] + i * range[2]);
        return out;
    }

    /** {@code 1}, {@code 0.95}, {@code 2.5e-05}: a tick or value without trailing zeros. */
    static String number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e7) return Long.toString((long) v);
        if (Math.abs(v) >= 1e-3) return String.format(Locale.ROOT, "%.4f", v).replaceAll("0+$", "").replaceAll("\\.$", "");
        return String.format(Locale.ROOT, "%.2g", v);
    }

    /** {@code 950}, {@code 12K}, {@code 1.5M}, {@code 7B}: a parameter count in short form. */
    public static String countLabel(double n) {
        String[] units = {"", "K", "M", "B", "T"};
        int u = 0;
        while (Math.abs(n) >= 1000 && u < units.length - 1) {
            n /= 1000;
            u++;
        }
        String digits = n >= 100 || n == Math.rint(n) ? String.format(Locale.ROOT, "%.0f", n) : String.format(Locale.ROOT, "%.1f", n);
        return digits + units[u];
    }

    private static String shorten(String s, int max) { return s.length() <= max ? s : s.substring(0, max - 1) + "…"; }

    /** The plotting area of a chart and its data ranges. */
    record Frame(int width, int height, double xLo, double xHi, double yLo, double yHi) {
        double x(double v) { return LEFT + (v - xLo) / (xHi - xLo) * (width - LEFT - RIGHT); }

        double y(double v) { return height - BOTTOM - (v - yLo) / (yHi - yLo) * (height - TOP - BOTTOM); }
    }

    /** Accumulates one {@code <svg>} element. */
    static final class Svg {
        private final StringBuilder b = new StringBuilder();

        Svg(int width, int height, String title) {
            b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                    + " font-family=\"sans-serif\" role=\"img\">", width, height, width, height));
            b.append("<title>").append(escape(title)).append("</title>");
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">%s</text>", LEFT, escape(title)));
        }

        void add(String element) { b.append(element); }

        void xTick(Frame f, double v, String label) {
            double x = f.x(v);
            add(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e3e3e3\"/>", x, TOP, x, f.height() - BOTTOM));
            add(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>", x, f.height() - BOTTOM + 16, escape(label)));
        }

        void yTick(Frame f, double v, String label) {
            double y = f.y(v);
            add(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>", LEFT, y, f.width() - RIGHT, y));
            add(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>", LEFT - 6, y + 4, escape(label)));
        }

        void axes(Frame f, String xLabel, String yLabel) {
            int bottom = f.height() - BOTTOM;
            add(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", LEFT, bottom, f.width() - RIGHT, bottom));
            add(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", LEFT, TOP, LEFT, bottom));
            add(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>",
                    (LEFT + f.width() - RIGHT) / 2, f.height() - 12, escape(xLabel)));
            add(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">%s</text>",
                    (TOP + bottom) / 2, (TOP + bottom) / 2, escape(yLabel)));
        }

        String empty(String message) {
            add(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#777\">%s</text>", LEFT, TOP + 30, escape(message)));
            return finish();
        }

        String finish() { return b.append("</svg>").toString(); }

        /** Text safe inside XML content and attribute values. */
        static String escape(String s) {
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
        }
    }
}
