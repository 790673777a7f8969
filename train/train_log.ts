/**
 * The JSON training log and the plots written beside it.
 *
 * `train_log.json` holds the resolved configuration, the dataset sizes and
 * per-class counts, parameter counts and multiply-accumulates, one entry per
 * epoch with a train and a val block (loss, accuracy, per-class precision,
 * recall, specificity and F1, macro means, confusion matrix), the best epoch,
 * and the run's status. It is rewritten atomically after every epoch.
 * @module
 */
import { type EvalMetrics, formatMetricsTable } from "./metrics.ts";
import { renderConfusionSvg, renderCurvesSvg } from "./plots.ts";
import { writeJsonAtomic, writeTextAtomic } from "./files.ts";
import type { TrainConfig } from "./config.ts";
import type { Calibration } from "./calibration.ts";

/** One epoch of the log. */
export interface EpochEntry {
  epoch: number;
  learningRate: number;
  seconds: number;
  imagesPerSecond: number;
  train: EvalMetrics;
  val: EvalMetrics;
}

/** The whole log. */
export interface TrainLog {
  status: "running" | "interrupted" | "finished" | "failed";
  command: string;
  config: TrainConfig;
  backend: { name: string; reason: string };
  dataset: {
    classNames: string[];
    split: string;
    sizes: Record<"train" | "val" | "test", number>;
    classCounts: Record<"train" | "val" | "test", Record<string, number>>;
    skippedFiles: { path: string; reason: string }[];
  };
  model: {
    parameters: { total: number; trainable: number };
    /** Multiply-accumulates of one forward pass at batch 1 and the run's input size, as thop counts FLOPs. */
    macs: number;
    imgSize: number;
    pretrained?: {
      path: string;
      skipped: string[];
      freshCbam: string[];
      foldedBatchNorm: string[];
    };
  };
  epochs: EpochEntry[];
  best: { epoch: number; train: EvalMetrics; val: EvalMetrics } | null;
  test?: EvalMetrics;
  calibration?: Calibration;
  elapsedSeconds: number;
}

/** Writes the log and the loss/accuracy curves into `out`. */
export async function writeLog(out: string, log: TrainLog): Promise<void> {
  await writeJsonAtomic(`${out}/train_log.json`, log);
  if (log.epochs.length > 0) {
    const history = log.epochs.map((e) => ({
      epoch: e.epoch,
      trainLoss: e.train.loss,
      valLoss: e.val.loss,
      trainAccuracy: e.train.accuracy,
      valAccuracy: e.val.accuracy,
    }));
    await writeTextAtomic(`${out}/curves.svg`, await renderCurvesSvg(history));
  }
}

/** Writes a confusion-matrix plot named `confusion_<split>.svg` into `out`. */
export async function writeConfusionPlot(
  out: string,
  split: string,
  metrics: EvalMetrics,
  classNames: string[],
  title: string,
): Promise<void> {
  const svg = await renderConfusionSvg(metrics.confusionMatrix, classNames, title);
  await writeTextAtomic(`${out}/confusion_${split}.svg`, svg);
}

/** Returns whether epoch `a` beats epoch `b`: higher val accuracy, ties broken by macro F1. */
export function isBetter(
  a: EvalMetrics,
  b: { valAccuracy: number; valMacroF1: number } | null,
): boolean {
  if (!b) return true;
  if (a.accuracy !== b.valAccuracy) return a.accuracy > b.valAccuracy;
  return a.macro.f1 > b.valMacroF1;
}

/** Formats the best epoch's train and val performance for the console. */
export function formatBest(best: NonNullable<TrainLog["best"]>): string {
  return [
    `Best epoch: ${best.epoch}`,
    `train: loss ${best.train.loss.toFixed(4)}, accuracy ${
      (best.train.accuracy * 100).toFixed(2)
    }%`,
    formatMetricsTable(best.train),
    `val: loss ${best.val.loss.toFixed(4)}, accuracy ${(best.val.accuracy * 100).toFixed(2)}%`,
    formatMetricsTable(best.val),
  ].join("\n");
}
