package org.peft4j.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import org.peft4j.train.ProgressListener;

/**
 * Shows a training run as it goes: its plan, a {@link ProgressBar} over the optimizer steps (step,
 * loss, tokens/s, ETA), a line when an evaluation starts (they take a while and have no steps of
 * their own) and one with its metrics when it ends.
 */
final class TrainProgress implements ProgressListener {
    /** Permanent progress lines a run prints at most (more on a terminal, through the redrawn bar). */
    private static final int LOG_LINES = 20;

    private final PrintStream out;
    private final boolean interactive;
    private Plan plan;
    private ProgressBar bar;

    TrainProgress(PrintStream out, boolean interactive) {
        this.out = out;
        this.interactive = interactive;
    }

    @Override
    public void started(Plan p) {
        plan = p;
        out.printf(Locale.ROOT, "training %,d of %,d parameters (%s) on %,d examples: %d epoch%s of %,d steps%s%n",
                p.trainable(), p.total(), percent(p.trainable(), p.total()), p.trainExamples(), p.epochs(),
                p.epochs() == 1 ? "" : "s", p.stepsPerEpoch(), p.totalSteps() < (long) p.epochs() * p.stepsPerEpoch()
                        ? String.format(Locale.ROOT, " (capped at %,d steps)", p.totalSteps()) : "");
        if (p.startStep() > 0) out.printf(Locale.ROOT, "resuming from the checkpoint after step %,d%n", p.startStep());
        long remaining = p.totalSteps() - p.startStep();
        if (remaining > 0) {
            bar = new ProgressBar(out, p.totalSteps(), p.startStep(), "tokens", interactive, Math.max(1, remaining / LOG_LINES));
        }
    }

    @Override
    public void stepDone(Step s) {
        if (bar != null) bar.update(s.step(), s.tokens(), s.loss());
        boolean epochEnd = plan.stepsPerEpoch() > 0 && s.step() % plan.stepsPerEpoch() == 0;
        if ((epochEnd || s.step() == s.totalSteps()) && plan.devExamples() > 0) {
            if (bar != null) bar.finish();
            out.printf(Locale.ROOT, "  evaluating on %,d dev examples...%n", plan.devExamples());
        } else if (s.step() == s.totalSteps() && plan.testExamples() > 0) {
            if (bar != null) bar.finish();
            out.printf(Locale.ROOT, "  evaluating on %,d test examples...%n", plan.testExamples());
        }
    }

    @Override
    public void evaluated(Evaluation e) {
        if (bar != null) bar.finish();
        if (e.split().equals("dev")) {
            out.printf(Locale.ROOT, "  epoch %d dev   %s%s%n", e.epoch(), format(e.metrics()), e.improved() ? "  (best so far, kept)" : "");
            boolean last = e.step() >= plan.totalSteps() || e.epoch() >= plan.epochs();
            if (last && plan.testExamples() > 0) {
                out.printf(Locale.ROOT, "  evaluating the kept adapter on %,d test examples...%n", plan.testExamples());
            }
        } else {
            out.printf(Locale.ROOT, "  %-13s %s%n", e.split(), format(e.metrics()));
        }
    }

    /** {@code accuracy 0.9812  macro_f1 0.9770  loss 0.0613}. */
    static String format(Map<String, Double> metrics) {
        StringBuilder b = new StringBuilder();
        metrics.forEach((k, v) -> b.append(b.isEmpty() ? "" : "  ").append(k).append(' ').append(String.format(Locale.ROOT, "%.4f", v)));
        return b.toString();
    }

    /** {@code 0.65%}, with more digits for tiny shares. */
    static String percent(long part, long whole) {
        double p = whole == 0 ? 0 : 100.0 * part / whole;
        return String.format(Locale.ROOT, p >= 1 ? "%.1f%%" : p >= 0.01 ? "%.2f%%" : "%.4f%%", p);
    }
}
