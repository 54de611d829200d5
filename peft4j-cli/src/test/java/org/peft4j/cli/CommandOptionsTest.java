package org.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.train.TrainingConfig;

/** The options of the training commands, parsed without running anything. */
class CommandOptionsTest {
    @Test
    void trainTakesEveryBudgetOption() {
        var t = assertInstanceOf(TrainCommand.class, Cli.parse("train", "--model", "builtin:all-minilm-l6-v2", "--data", "d.jsonl",
                "--method", "lora[r=8,alpha=16]", "--epochs", "2", "--batch-size", "8", "--lr", "2e-3", "--max-length", "64",
                "--train-limit", "100", "--eval-limit", "50", "--seed", "7", "--split-seed", "3", "--grad-accumulation", "2",
                "--max-steps", "30", "--warmup-ratio", "0.1", "--weight-decay", "0", "--schedule", "cosine", "--patience", "2",
                "--checkpoint-every", "10", "--dtype", "bf16", "--resume", "--name", "spam", "--output", "runs/a"));
        assertEquals("lora[r=8,alpha=16]", t.method);
        assertEquals("spam", t.name);
        assertEquals(Path.of("runs/a"), t.output);
        assertTrue(t.resume);
        assertEquals(64, t.budget.maxLength());
        assertEquals(3, t.budget.splitSeed());
        TrainingConfig c = t.budget.config(t.method);
        assertEquals(new TrainingConfig(2, 8, 2e-3, 0, 0.1, TrainingConfig.Schedule.COSINE, 2, 1.0, 7, true, 2, 30, 100, 50, 10, 5), c);
        assertEquals(List.of("--epochs", "2", "--batch-size", "8", "--lr", "0.002", "--max-length", "64", "--train-limit", "100",
                "--eval-limit", "50", "--seed", "7", "--split-seed", "3", "--grad-accumulation", "2", "--max-steps", "30",
                "--warmup-ratio", "0.1", "--weight-decay", "0.0", "--schedule", "cosine", "--patience", "2",
                "--checkpoint-every", "10", "--dtype", "bf16"), t.budget.asArguments());
    }

    @Test
    void trainDefaultsFollowTheTrainerAndTheMethod() {
        var t = assertInstanceOf(TrainCommand.class, Cli.parse("train", "--model", "m", "--data", "d", "--method", "bitfit", "--output", "o"));
        assertEquals(TrainJob.DEFAULT_ADAPTER_NAME, t.name);
        assertFalse(t.resume);
        assertEquals(BudgetOptions.DEFAULT_MAX_LENGTH, t.budget.maxLength());
        assertEquals(TrainingConfig.defaults().withLr(1e-2).withLogEvery(5), t.budget.config("bitfit"));
        assertEquals(List.of(), t.budget.asArguments());
    }

    @Test
    void trainRequiresModelDataMethodAndOutput() {
        Cli r = Cli.run("train", "--model", "m", "--data", "d", "--method", "lora");
        assertEquals(2, r.exitCode);
        assertTrue(r.err.contains("Missing required option: '--output=DIR'"), r.err);
    }

    @Test
    void learningRateDependsOnTheMethod() {
        assertEquals(1e-3, MethodDefaults.learningRate("seq_bn"));
        assertEquals(1e-3, MethodDefaults.learningRate("pfeiffer"), "aliases resolve to their method");
        assertEquals(1e-3, MethodDefaults.learningRate("lora[r=4]"));
        assertEquals(1e-2, MethodDefaults.learningRate("bitfit"));
        assertEquals(5e-4, MethodDefaults.learningRate("prefix_tuning"));
        assertEquals(3e-2, MethodDefaults.learningRate("prompt_tuning"));
        assertEquals(5e-4, MethodDefaults.learningRate("prefix_tuning|par_bn"), "a union takes its smallest rate");
        var e = assertThrows(IllegalArgumentException.class, () -> MethodDefaults.learningRate("bogus"));
        assertTrue(e.getMessage().contains("unknown method 'bogus'"), e.getMessage());
    }

    @Test
    void evalAndPredictNeedOnlyTheAdapter() {
        var e = assertInstanceOf(EvalCommand.class, Cli.parse("eval", "--adapter", "runs/a"));
        assertEquals(Path.of("runs/a"), e.adapter);
        assertNull(e.model);
        assertNull(e.data);
        assertNull(e.split);
        var e2 = assertInstanceOf(EvalCommand.class, Cli.parse("eval", "--model", "m", "--adapter", "a", "--data", "t.csv",
                "--split", "all", "--eval-limit", "9", "--seed", "4", "--max-length", "32", "--batch-size", "4", "--json"));
        assertEquals("all", e2.split);
        assertEquals(9, e2.evalLimit);
        assertTrue(e2.json);
        assertEquals(EvalCommand.Part.DEV, EvalCommand.parsePart("Dev"));
        assertThrows(IllegalArgumentException.class, () -> EvalCommand.parsePart("holdout"));

        var p = assertInstanceOf(PredictCommand.class, Cli.parse("predict", "--adapter", "a", "--json", "first text", "second"));
        assertEquals(List.of("first text", "second"), p.texts);
        assertTrue(p.json);
        assertEquals(List.of(), assertInstanceOf(PredictCommand.class, Cli.parse("predict", "--adapter", "a")).texts);
    }

    @Test
    void fuseSplitsItsAdapterList() {
        var f = assertInstanceOf(FuseCommand.class, Cli.parse("fuse", "--adapters", "runs/a,runs/b,runs/c", "--data", "builtin:sotu",
                "--output", "fused", "--train-limit", "500", "--fusion", "fuse[static=true]"));
        assertEquals(List.of(Path.of("runs/a"), Path.of("runs/b"), Path.of("runs/c")), f.adapters);
        assertEquals(500, f.budget.trainLimit);
        assertTrue(FuseCommand.fusionConfig("fuse[static=true]").adapters().isEmpty());
        assertThrows(IllegalArgumentException.class, () -> FuseCommand.fusionConfig("lora"));
    }

    @Test
    void mergeTakesAdapterAndOutput() {
        var m = assertInstanceOf(MergeCommand.class, Cli.parse("merge", "--model", "base", "--adapter", "a", "--output", "merged"));
        assertEquals("base", m.model);
        assertEquals(Path.of("merged"), m.output);
    }

    @Test
    void compareSplitsMethodsOutsideBrackets() {
        var c = assertInstanceOf(CompareCommand.class, Cli.parse("compare", "--model", "m", "--data", "d",
                "--methods", "seq_bn, lora[r=8,alpha=16],prefix_tuning|par_bn", "--output", "cmp", "--epochs", "1"));
        assertEquals(List.of("seq_bn", "lora[r=8,alpha=16]", "prefix_tuning|par_bn"), CompareCommand.splitMethods(c.methods));
        assertEquals(List.of("train", "--model", "m", "--data", "d", "--method", "lora", "--output", "x", "--epochs", "1"),
                c.trainArguments("lora", Path.of("x")));
        assertThrows(IllegalArgumentException.class, () -> CompareCommand.splitMethods("lora[r=8"));
        assertThrows(IllegalArgumentException.class, () -> CompareCommand.splitMethods(" , "));
        assertEquals(List.of("seq_bn", "lora_r=8_alpha=16", "prefix_tuning_par_bn", "lora_r=8_alpha=16-2"),
                List.copyOf(CompareCommand.runNames(List.of("seq_bn", "lora[r=8,alpha=16]", "prefix_tuning|par_bn", "lora[r=8;alpha=16]")).values()));
        assertThrows(IllegalArgumentException.class, () -> CompareCommand.runNames(List.of("lora", "lora")));
    }

    @Test
    void compareRefusesAnUnknownMethodBeforeTraining() {
        Cli r = Cli.run("compare", "--model", "m", "--data", "d", "--methods", "lora,bogus", "--output", "never-written");
        assertEquals(1, r.exitCode);
        assertTrue(r.err.contains("unknown method 'bogus'"), r.err);
        assertFalse(java.nio.file.Files.exists(Path.of("never-written")));
    }

    @Test
    void formatsNumbersAsPeopleWriteThem() {
        assertEquals("1e-3", TrainJob.formatLr(1e-3));
        assertEquals("5e-4", TrainJob.formatLr(5e-4));
        assertEquals("0.0015", TrainJob.formatLr(0.0015));
        assertEquals("0.50%", TrainProgress.percent(113_810, 22_679_186));
        assertEquals("100.0%", TrainProgress.percent(5, 5));
        assertEquals("812 MB", TrainJob.formatBytes(812L << 20));
        assertEquals("1.5 GB", TrainJob.formatBytes(3L << 29));
        assertEquals("934 B", TrainJob.formatBytes(934));
    }
}
