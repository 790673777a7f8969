/**
 * The end of a training run: the best epoch's weights are evaluated on the
 * test list (when the split has one, for the report only: the best epoch is
 * chosen on val), calibrated on val, and exported with their plots.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { getLogger } from "../shared/log.ts";
import { saveModelDir } from "../shared/model/io.ts";
import type { CalibrationSpec } from "../shared/model/metadata.ts";
import type { PreprocessConfig } from "../shared/preprocess.ts";
import { loadCheckpointWeights, restoreWeights } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import type { PreparedData } from "./dataset_setup.ts";
import { runEval } from "./epoch.ts";
import { metricsFromConfusion } from "./metrics.ts";
import { metadataFor } from "./model_factory.ts";
import { calibrate, type Calibration } from "./calibration.ts";
import { formatBest, type TrainLog, writeConfusionPlot, writeLog } from "./train_log.ts";

const logger = getLogger(["waste-vision", "train", "export"]);

/**
 * Minimum number of val images for a calibration fit. Below that, temperature and
 * threshold mostly fit noise, so the model is exported without them.
 */
export const MIN_CALIBRATION_IMAGES = 50;

/** Everything the export step needs from the run. */
export interface ExportContext {
  config: TrainConfig;
  model: tf.LayersModel;
  data: PreparedData;
  log: TrainLog;
  preprocess: PreprocessConfig;
}

async function evaluateSplit(context: ExportContext, split: "val" | "test") {
  const { model, data, config, preprocess } = context;
  const pass = await runEval(model, data[split], {
    batchSize: config.batchSize,
    preprocess,
    numClasses: data.classNames.length,
  });
  return {
    pass,
    metrics: metricsFromConfusion(pass.confusion, data.classNames, pass.lossSum / pass.seen),
  };
}

/** Returns the calibration to store, or why there is none. */
function calibrationFor(logits: Float32Array, labels: number[]): Calibration | string {
  if (labels.length < MIN_CALIBRATION_IMAGES) {
    return `val has ${labels.length} images, fewer than the ${MIN_CALIBRATION_IMAGES} a fit needs`;
  }
  const fitted = calibrate(logits, labels);
  if (fitted.atSearchBound) {
    return `the fitted temperature ${
      fitted.temperature.toFixed(3)
    } sits at the end of the search range`;
  }
  return fitted;
}

function thresholdRule(fitted: Calibration): string {
  const target = `${(fitted.targetAccuracy * 100).toFixed(0)}%`;
  if (fitted.targetReached) {
    return `the lowest calibrated top score at which the val answers kept reach ${target} accuracy`;
  }
  return `no threshold reached ${target} accuracy on val, so the one with the best accuracy ` +
    "that still keeps half of the val answers";
}

function calibrationSpec(fitted: Calibration): CalibrationSpec {
  return {
    temperature: fitted.temperature,
    uncertainThreshold: fitted.uncertainThreshold,
    method: "temperature scaling fitted on val by NLL; threshold: " + thresholdRule(fitted),
    valFlaggedShare: fitted.valFlaggedShare,
    valAccuracyKept: fitted.valAccuracyKept,
  };
}

/** Evaluates, calibrates and exports the best epoch into `<out>/model`. */
export async function exportBestEpoch(context: ExportContext): Promise<void> {
  const { config, model, data, log } = context;
  const best = log.best;
  if (!best) throw new Error(`No finished epoch in ${config.out}: nothing to export.`);
  restoreWeights(model, await loadCheckpointWeights(`${config.out}/checkpoints/best`));
  const classNames = data.classNames;
  if (data.test.length > 0) {
    log.test = (await evaluateSplit(context, "test")).metrics;
    await writeConfusionPlot(config.out, "test", log.test, classNames, `Test, epoch ${best.epoch}`);
  }
  await writeConfusionPlot(config.out, "val", best.val, classNames, `Val, epoch ${best.epoch}`);

  const { pass } = await evaluateSplit(context, "val");
  const fitted = calibrationFor(pass.logits, data.val.map((d) => d.sample.label));
  const metadata = metadataFor(config, classNames, {
    bestEpoch: best.epoch,
    epochs: config.epochs,
    valAccuracy: best.val.accuracy,
    valMacroF1: best.val.macro.f1,
    trainAccuracy: best.train.accuracy,
    datasetSizes: log.dataset.sizes,
    command: log.command,
  });
  if (typeof fitted === "string") {
    logger.warn("Exported without calibration: {reason}", { reason: fitted });
  } else {
    log.calibration = fitted;
    metadata.calibration = calibrationSpec(fitted);
    logger.info(
      "Calibration on val: temperature {t}, uncertain below {u} (flags {flagged}% of val; accuracy on the rest {kept}%)",
      {
        t: fitted.temperature.toFixed(3),
        u: fitted.uncertainThreshold.toFixed(3),
        flagged: (fitted.valFlaggedShare * 100).toFixed(1),
        kept: (fitted.valAccuracyKept * 100).toFixed(2),
      },
    );
  }
  await saveModelDir(`${config.out}/model`, model, metadata);
  log.status = "finished";
  await writeLog(config.out, log);
  console.log(formatBest(best));
  if (log.test) {
    console.log(`Test accuracy of the best epoch: ${(log.test.accuracy * 100).toFixed(2)}%`);
  }
  logger.info("Exported the best epoch to {dir}", { dir: `${config.out}/model` });
}
