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
import { type BackendChoice, useBackend } from "../shared/backend.ts";
import { countMacs, countParameters } from "../shared/model/summary.ts";
import { saveModelDir } from "../shared/model/io.ts";
import type { PreprocessConfig } from "../shared/preprocess.ts";
import { classMap } from "./data/image_folder.ts";
import { metricsFromConfusion } from "./metrics.ts";
import { createProgress } from "./progress.ts";
import type { TrainConfig } from "./config.ts";
import { prepareData, type PreparedData } from "./dataset_setup.ts";
import { applyFreezePolicy, trainableVariables } from "./freeze.ts";
import { buildModel, metadataFor, RESIZE_RATIO } from "./model_factory.ts";
import { cosineLearningRate, TorchOptimizer } from "./optim.ts";
import { emptyTally, runEval, runTrainEpoch } from "./epoch.ts";
import {
  loadCheckpoint,
  restoreWeights,
  saveCheckpoint,
  type TrainerPosition,
} from "./checkpoint.ts";
import { exists, writeJsonAtomic } from "./files.ts";
import { formatBest, isBetter, type TrainLog, writeConfusionPlot, writeLog } from "./train_log.ts";
import { applyPretrained } from "./pretrained.ts";
import { createFeatureCache } from "./feature_cache.ts";
import { calibrate } from "./calibration.ts";

const logger = getLogger(["waste-vision", "train"]);

/** How a run ended. */
export interface RunOutcome {
  status: "finished" | "interrupted";
  log: TrainLog;
}

function preprocessConfig(
  imgSize: number,
  metadata: ReturnType<typeof metadataFor>,
): PreprocessConfig {
  return { imgSize, mean: metadata.input.mean, std: metadata.input.std, resizeRatio: RESIZE_RATIO };
}

/** Class weights N / (C * n_c), as scikit-learn's "balanced", for a weighted loss. */
function balancedClassWeights(counts: Record<string, number>, classNames: string[]): tf.Tensor1D {
  const n = classNames.reduce((sum, name) => sum + counts[name], 0);
  return tf.tensor1d(classNames.map((name) => n / (classNames.length * Math.max(1, counts[name]))));
}

async function checkOutputFolder(config: TrainConfig): Promise<void> {
  const hasRun = await exists(`${config.out}/train_log.json`) ||
    await exists(`${config.out}/checkpoints/last`);
  if (config.resume && !(await exists(`${config.out}/checkpoints/last`))) {
    throw new Error(
      `--resume: no checkpoint in ${config.out}/checkpoints/last. Start the run without --resume.`,
    );
  }
  if (!config.resume && hasRun) {
    throw new Error(
      `Output folder ${config.out} already holds a run. Pass --resume to continue it, or choose another --out.`,
    );
  }
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

/**
 * Runs training as configured. Resolves with status `interrupted` when
 * `signal` aborts (the last checkpoint then holds the exact position).
 */
export async function runTraining(
  config: TrainConfig,
  options: {
    command: string;
    signal?: AbortSignal;
    /** Called after every training step with the epoch (from 0) and the steps done in it. */
    onStep?: (epoch: number, stepInEpoch: number) => void;
  },
): Promise<RunOutcome> {
  await checkOutputFolder(config);
  const backend = await useBackend(config.backend, { training: true });
  logger.info("Backend {backend}: {reason}", { ...backend });
  await Deno.mkdir(`${config.out}/checkpoints`, { recursive: true });
  await writeJsonAtomic(`${config.out}/config.json`, { command: options.command, ...config });

  const cacheMinSide = Math.round(config.imgSize / RESIZE_RATIO);
  const data = await prepareData(config.data, {
    splitDir: config.split,
    valFraction: config.valFraction,
    seed: config.seed,
    cacheMinSide,
    workers: config.workers,
  });
  const { classNames } = data;
  logger.info("Classes: {names}", { names: classNames.join(", ") });
  for (const split of ["train", "val", "test"] as const) {
    logger.info("{split}: {n} images {counts}", {
      split,
      n: data[split].length,
      counts: JSON.stringify(data.counts[split]),
    });
  }
  await writeJsonAtomic(`${config.out}/class_map.json`, classMap(classNames));
  await writeJsonAtomic(`${config.out}/dataset.json`, {
    classNames,
    split: data.splitSource,
    classCounts: data.counts,
    skippedFiles: data.skipped,
  });

  const model = buildModel(config, classNames.length);
  const log = newLog(config, options.command, backend, data);
  // Freezing first: the pretrained loader may then keep folded BatchNorm
  // layers in inference mode, which the freeze policy would otherwise reset.
  applyFreezePolicy(model, config);
  if (config.pretrained) log.model.pretrained = await applyPretrained(model, config.pretrained);
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

  let position: TrainerPosition = {
    epoch: 0,
    stepInEpoch: 0,
    partial: emptyTally(classNames.length),
    history: [],
    best: null,
    elapsedSeconds: 0,
  };
  if (config.resume) {
    const checkpoint = await loadCheckpoint(`${config.out}/checkpoints/last`);
    restoreWeights(model, checkpoint.weights);
    optimizer.setState(checkpoint.optimizer);
    position = checkpoint.position;
    log.epochs = position.history as TrainLog["epochs"];
    logger.info("Resumed from epoch {epoch}, step {step}", {
      epoch: position.epoch + 1,
      step: position.stepInEpoch,
    });
  }
  const metadata = metadataFor(config, classNames);
  const preprocess = preprocessConfig(config.imgSize, metadata);
  const classWeights = config.balance === "weights"
    ? balancedClassWeights(data.counts.train, classNames)
    : undefined;
  // After resuming, so that the frozen prefix has its final weights.
  const featureCache = await createFeatureCache(model, {
    augment: config.augment,
    data: data.train,
    preprocess,
    batchSize: config.batchSize,
  });
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
    const trainMetrics = metricsFromConfusion(
      tally.confusion,
      classNames,
      tally.lossSum / tally.seen,
    );
    const valTally = await runEval(model, data.val, {
      batchSize: config.batchSize,
      preprocess,
      numClasses: classNames.length,
    });
    const valMetrics = metricsFromConfusion(
      valTally.confusion,
      classNames,
      valTally.lossSum / valTally.seen,
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
    logger.info(
      "Epoch {epoch}/{epochs}: train loss {tl} acc {ta}%, val loss {vl} acc {va}% macro F1 {f1}, {s} s",
      {
        epoch: epoch + 1,
        epochs: config.epochs,
        tl: trainMetrics.loss.toFixed(4),
        ta: (trainMetrics.accuracy * 100).toFixed(2),
        vl: valMetrics.loss.toFixed(4),
        va: (valMetrics.accuracy * 100).toFixed(2),
        f1: valMetrics.macro.f1.toFixed(4),
        s: seconds.toFixed(1),
      },
    );
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
    const bestEntry = log.epochs.find((e) => e.epoch === best!.epoch)!;
    log.best = { epoch: best!.epoch, train: bestEntry.train, val: bestEntry.val };
    log.elapsedSeconds = elapsed();
    await writeLog(config.out, log);
  }

  featureCache?.dispose();
  await finishRun({ config, model, data, log, preprocess, metadataBase: metadata });
  optimizer.dispose();
  model.dispose();
  return { status: "finished", log };
}

async function finishRun(run: {
  config: TrainConfig;
  model: tf.LayersModel;
  data: PreparedData;
  log: TrainLog;
  preprocess: PreprocessConfig;
  metadataBase: ReturnType<typeof metadataFor>;
}): Promise<void> {
  const { config, model, data, log, preprocess } = run;
  const best = log.best!;
  const bestCheckpoint = await loadCheckpointWeights(`${config.out}/checkpoints/best`);
  restoreWeights(model, bestCheckpoint);
  const classNames = data.classNames;
  if (data.test.length > 0) {
    const testTally = await runEval(model, data.test, {
      batchSize: config.batchSize,
      preprocess,
      numClasses: classNames.length,
    });
    log.test = metricsFromConfusion(
      testTally.confusion,
      classNames,
      testTally.lossSum / testTally.seen,
    );
    await writeConfusionPlot(config.out, "test", log.test, classNames, `Test, epoch ${best.epoch}`);
  }
  await writeConfusionPlot(config.out, "val", best.val, classNames, `Val, epoch ${best.epoch}`);
  const valPass = await runEval(model, data.val, {
    batchSize: config.batchSize,
    preprocess,
    numClasses: classNames.length,
  });
  const fitted = calibrate(valPass.logits, data.val.map((d) => d.sample.label));
  log.calibration = fitted;
  logger.info(
    "Calibration on val: temperature {t}, uncertain below {u} (flags {flagged}% of val; accuracy on the rest {kept}%)",
    {
      t: fitted.temperature.toFixed(3),
      u: fitted.uncertainThreshold.toFixed(3),
      flagged: (fitted.valFlaggedShare * 100).toFixed(1),
      kept: (fitted.valAccuracyKept * 100).toFixed(2),
    },
  );
  const metadata = metadataFor(config, classNames, {
    bestEpoch: best.epoch,
    epochs: config.epochs,
    valAccuracy: best.val.accuracy,
    valMacroF1: best.val.macro.f1,
    trainAccuracy: best.train.accuracy,
    datasetSizes: log.dataset.sizes,
    command: log.command,
  });
  metadata.calibration = {
    temperature: fitted.temperature,
    uncertainThreshold: fitted.uncertainThreshold,
    method: "temperature scaling fitted on val by NLL; threshold maximizes Youden's J " +
      "(share of right val answers kept minus share of wrong ones kept)",
    valFlaggedShare: fitted.valFlaggedShare,
    valAccuracyKept: fitted.valAccuracyKept,
  };
  await saveModelDir(`${config.out}/model`, model, metadata);
  log.status = "finished";
  await writeLog(config.out, log);
  logger.info("{summary}", { summary: formatBest(best) });
  if (log.test) {
    logger.info("Test accuracy of the best epoch: {acc}%", {
      acc: (log.test.accuracy * 100).toFixed(2),
    });
  }
  logger.info("Exported the best epoch to {dir}", { dir: `${config.out}/model` });
}

async function loadCheckpointWeights(dir: string) {
  const { loadModelDir } = await import("../shared/model/io.ts");
  const { model } = await loadModelDir(dir);
  const weights = new Map<string, tf.Tensor[]>();
  for (const layer of model.layers) {
    if (layer.weights.length > 0) weights.set(layer.name, layer.getWeights().map((w) => w.clone()));
  }
  model.dispose();
  return weights;
}
