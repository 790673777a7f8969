/**
 * A whole training run: data, model, epochs, checkpoints, log, plots and the
 * export of the best epoch's weights.
 *
 * Output folder (`--out`):
 * - `config.json`: the resolved configuration and the command line
 * - `class_map.json`, `dataset.json`: class indices, split sizes, counts
 * - `train_log.json`, `curves.svg`, `confusion_val.svg` (best epoch),
 *   `confusion_test.svg` when the split has a test list
 * - `checkpoints/last/`, `checkpoints/best/`: resumable checkpoints
 * - `model/`: the best epoch exported as a TF.js layers model with
 *   labels.json and metadata.json
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getLogger } from "../shared/log.ts";
import type { BackendChoice } from "../shared/backend.ts";
import { countMacs, countParameters } from "../shared/model/summary.ts";
import { saveModelDir } from "../shared/model/io.ts";
import type { ModelMetadata } from "../shared/model/metadata.ts";
import type { PreprocessConfig } from "../shared/preprocess.ts";
import { type EvalMetrics, metricsFromConfusion } from "./metrics.ts";
import { createProgress } from "./progress.ts";
import type { TrainConfig } from "./config.ts";
import type { PreparedData } from "./dataset_setup.ts";
import { trainableVariables } from "./freeze.ts";
import { metadataFor, RESIZE_RATIO } from "./model_factory.ts";
import { cosineLearningRate, TorchOptimizer } from "./optim.ts";
import { emptyTally, type EpochTally, runEval, runTrainEpoch } from "./epoch.ts";
import {
  loadCheckpoint,
  restoreWeights,
  saveCheckpoint,
  type TrainerPosition,
} from "./checkpoint.ts";
import { isBetter, type TrainLog, writeLog } from "./train_log.ts";
import { createFeatureCache } from "./feature_cache.ts";
import { createPrefixRunner } from "./prefix_runner.ts";
import { prepareRun, writeRunFiles } from "./run_setup.ts";
import { exportBestEpoch } from "./run_export.ts";

const logger = getLogger(["waste-vision", "train"]);

/** Outcome of a run. */
export interface RunOutcome {
  status: "finished" | "interrupted";
  log: TrainLog;
}

/** Options of {@linkcode runTraining}. */
export interface RunOptions {
  /** The command line that started the run, for the log and metadata.json. */
  command: string;
  /** Aborting it stops the run after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Called after every training step with the epoch (from 0) and the steps done in it. */
  onStep?: (epoch: number, stepInEpoch: number) => void;
}

function preprocessConfig(imgSize: number, metadata: ModelMetadata): PreprocessConfig {
  return { imgSize, mean: metadata.input.mean, std: metadata.input.std, resizeRatio: RESIZE_RATIO };
}

/** Class weights N / (C * n_c), as scikit-learn's "balanced", for a weighted loss. */
function balancedClassWeights(counts: Record<string, number>, classNames: string[]): tf.Tensor1D {
  const n = classNames.reduce((sum, name) => sum + counts[name], 0);
  return tf.tensor1d(classNames.map((name) => n / (classNames.length * Math.max(1, counts[name]))));
}

function newLog(
  config: TrainConfig,
  command: string,
  backend: BackendChoice,
  data: PreparedData,
): TrainLog {
  return {
    status: "running",
    command,
    config,
    backend: { name: backend.backend, reason: backend.reason },
    dataset: {
      classNames: data.classNames,
      split: data.splitSource,
      sizes: { train: data.train.length, val: data.val.length, test: data.test.length },
      classCounts: data.counts,
      skippedFiles: data.skipped,
    },
    model: { parameters: { total: 0, trainable: 0 }, macs: 0, imgSize: config.imgSize },
    epochs: [],
    best: null,
    elapsedSeconds: 0,
  };
}

function freshPosition(numClasses: number): TrainerPosition {
  return {
    epoch: 0,
    stepInEpoch: 0,
    partial: emptyTally(numClasses),
    history: [],
    best: null,
    elapsedSeconds: 0,
  };
}

/** Restores the best-epoch block of the log from a resumed position. */
function bestFromHistory(log: TrainLog, position: TrainerPosition): TrainLog["best"] {
  if (!position.best) return null;
  const entry = log.epochs.find((e) => e.epoch === position.best!.epoch);
  return entry ? { epoch: entry.epoch, train: entry.train, val: entry.val } : null;
}

function logEpoch(
  epoch: number,
  epochs: number,
  train: EvalMetrics,
  val: EvalMetrics,
  seconds: number,
) {
  logger.info(
    "Epoch {epoch}/{epochs}: train loss {tl} acc {ta}%, val loss {vl} acc {va}% macro F1 {f1}, {s} s",
    {
      epoch: epoch + 1,
      epochs,
      tl: train.loss.toFixed(4),
      ta: (train.accuracy * 100).toFixed(2),
      vl: val.loss.toFixed(4),
      va: (val.accuracy * 100).toFixed(2),
      f1: val.macro.f1.toFixed(4),
      s: seconds.toFixed(1),
    },
  );
}

/**
 * Runs training as configured. Resolves with status `interrupted` when
 * `signal` aborts (the last checkpoint then contains the exact position).
 * Nothing is written to `--out` before the data and the network are known
 * to be usable.
 */
export async function runTraining(config: TrainConfig, options: RunOptions): Promise<RunOutcome> {
  const { backend, data, model, pretrained } = await prepareRun(config);
  if (!config.resume) await writeRunFiles(config, options.command, data);
  const { classNames } = data;
  const log = newLog(config, options.command, backend, data);
  log.model.pretrained = pretrained;
  const variables = trainableVariables(model);
  const optimizer = new TorchOptimizer(variables, {
    name: config.optim,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  log.model.parameters = countParameters(model);
  log.model.macs = countMacs(model);
  logger.info("Parameters: {total} total, {trainable} trainable; {gmacs} GMACs per image", {
    ...log.model.parameters,
    gmacs: (log.model.macs / 1e9).toFixed(3),
  });

  let position = freshPosition(classNames.length);
  if (config.resume) {
    const checkpoint = await loadCheckpoint(`${config.out}/checkpoints/last`);
    restoreWeights(model, checkpoint.weights);
    optimizer.setState(checkpoint.optimizer);
    position = checkpoint.position;
    log.epochs = position.history as TrainLog["epochs"];
    log.best = bestFromHistory(log, position);
    log.elapsedSeconds = position.elapsedSeconds;
    logger.info("Resumed from epoch {epoch}, step {step}", {
      epoch: position.epoch + 1,
      step: position.stepInEpoch,
    });
    if (position.epoch >= config.epochs && position.stepInEpoch > 0) {
      logger.warn(
        "--epochs {epochs}: the unfinished epoch {epoch} is dropped and the best epoch exported",
        {
          epochs: config.epochs,
          epoch: position.epoch + 1,
        },
      );
    }
  }
  const metadata = metadataFor(config, classNames);
  const preprocess = preprocessConfig(config.imgSize, metadata);
  const classWeights = config.balance === "weights"
    ? balancedClassWeights(data.counts.train, classNames)
    : undefined;
  // After resuming, so that the frozen prefix has its final weights.
  const featureCache = position.epoch < config.epochs
    ? await createFeatureCache(model, {
      augment: config.augment,
      data: data.train,
      preprocess,
      batchSize: config.batchSize,
    })
    : undefined;
  const prefixRunner = featureCache || position.epoch >= config.epochs
    ? undefined
    : createPrefixRunner(model);
  const started = performance.now();
  const elapsed = () => position.elapsedSeconds + (performance.now() - started) / 1000;
  const saveLast = async (at: TrainerPosition) =>
    await saveCheckpoint(`${config.out}/checkpoints/last`, {
      model,
      metadata,
      optimizer: optimizer.getState(),
      position: { ...at, elapsedSeconds: elapsed() },
    });

  for (let epoch = position.epoch; epoch < config.epochs; epoch++) {
    const learningRate = cosineLearningRate(epoch, config);
    const epochStart = performance.now();
    const tally = epoch === position.epoch ? position.partial : emptyTally(classNames.length);
    const startStep = epoch === position.epoch ? position.stepInEpoch : 0;
    const progress = createProgress({
      total: data.train.length,
      label: `epoch ${epoch + 1}/${config.epochs} train`,
    });
    const { stopped } = await runTrainEpoch({
      model,
      variables,
      optimizer,
      data: data.train,
      epoch,
      seed: config.seed,
      augment: config.augment,
      augmentOptions: { colorJitter: config.colorJitter ?? 0, blur: config.blur ?? 0 },
      balanced: config.balance === "sampler",
      learningRate,
      classWeights,
      startStep,
      tally,
      progress,
      batchSize: config.batchSize,
      preprocess,
      checkpointEvery: config.checkpointEvery,
      onCheckpoint: async (step, partial) =>
        await saveLast({ ...position, epoch, stepInEpoch: step, partial, history: log.epochs }),
      shouldStop: () => options.signal?.aborted === true,
      onStep: options.onStep,
      featureCache,
      prefixRunner,
    });
    progress.stop();
    if (stopped) {
      const step = Math.ceil(tally.seen / config.batchSize);
      await saveLast({
        ...position,
        epoch,
        stepInEpoch: step,
        partial: tally,
        history: log.epochs,
      });
      log.status = "interrupted";
      log.elapsedSeconds = elapsed();
      await writeLog(config.out, log);
      logger.warn("Interrupted at epoch {epoch}, step {step}; resume with --resume --out {out}", {
        epoch: epoch + 1,
        step,
        out: config.out,
      });
      return { status: "interrupted", log };
    }
    const trainMetrics = tallyMetrics(tally, classNames);
    const valMetrics = tallyMetrics(
      await runEval(model, data.val, {
        batchSize: config.batchSize,
        preprocess,
        numClasses: classNames.length,
      }),
      classNames,
    );
    const seconds = (performance.now() - epochStart) / 1000;
    log.epochs.push({
      epoch: epoch + 1,
      learningRate,
      seconds,
      imagesPerSecond: (tally.seen - startStep * config.batchSize) / seconds,
      train: trainMetrics,
      val: valMetrics,
    });
    logEpoch(epoch, config.epochs, trainMetrics, valMetrics, seconds);
    let best = position.best;
    if (isBetter(valMetrics, best)) {
      best = {
        epoch: epoch + 1,
        valAccuracy: valMetrics.accuracy,
        valMacroF1: valMetrics.macro.f1,
      };
      await saveModelDir(`${config.out}/checkpoints/best`, model, metadata);
    }
    position = {
      epoch: epoch + 1,
      stepInEpoch: 0,
      partial: emptyTally(classNames.length),
      history: log.epochs,
      best,
      elapsedSeconds: position.elapsedSeconds,
    };
    await saveLast(position);
    log.best = bestFromHistory(log, position);
    log.elapsedSeconds = elapsed();
    await writeLog(config.out, log);
  }

  featureCache?.dispose();
  await exportBestEpoch({ config, model, data, log, preprocess });
  optimizer.dispose();
  model.dispose();
  return { status: "finished", log };
}

function tallyMetrics(tally: EpochTally, classNames: string[]): EvalMetrics {
  return metricsFromConfusion(tally.confusion, classNames, tally.lossSum / tally.seen);
}
