/**
 * `deno task evaluate`: measures an exported model on an ImageFolder or on
 * one list of a split, and writes the same metrics JSON and confusion-matrix
 * plot as training.
 *
 * @example
 * ```sh
 * deno task evaluate --model weights/default --data ../shared/data/trashnet \
 *   --split ../shared/data/trashnet-splits --subset test --out runs/eval
 * ```
 * @module
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { BACKEND_NAMES, type BackendName, useBackend } from "../shared/backend.ts";
import { loadModelDir } from "../shared/model/io.ts";
import { downscaleForCache } from "../shared/preprocess.ts";
import { DecoderPool } from "../shared/image/decoder_pool.ts";
import { getLogger } from "../shared/log.ts";
import { type Sample, scanImageFolder } from "./data/image_folder.ts";
import { readSplitDir } from "./data/split.ts";
import { decodeAll, type DecodeAllResult } from "./data/loader.ts";
import { formatMetricsTable, metricsFromConfusion } from "./metrics.ts";
import { runEval } from "./epoch.ts";
import { writeJsonAtomic } from "./files.ts";
import { writeConfusionPlot } from "./train_log.ts";
import { runCli } from "./cli.ts";
import { keptAt, topScores } from "./calibration.ts";
import type { CalibrationSpec, ModelMetadata } from "../shared/model/metadata.ts";

const logger = getLogger(["waste-vision", "evaluate"]);
const SUBSETS = ["train", "val", "test", "all"] as const;

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${value}".`);
  }
  return parsed;
}

function evaluateCommand(): Command {
  return new Command("evaluate")
    .description("Evaluate an exported model on an ImageFolder, or on one list of a split.")
    .requiredOption("--model <dir>", "model folder with model.json and metadata.json")
    .requiredOption(
      "--data <dir>",
      "ImageFolder root whose class folders match the model's classes",
    )
    .option("--split <dir>", "folder with *_train.txt, *_val.txt and *_test.txt lists")
    .addOption(
      new Option("--subset <name>", "which images: a list of --split, or all").choices(SUBSETS)
        .default("all"),
    )
    .option("--out <dir>", "folder for metrics.json and confusion_<subset>.svg", "runs/evaluate")
    .option("--batch-size <n>", "images per forward pass", positiveInteger, 32)
    .option(
      "--workers <n>",
      "image decoding workers",
      positiveInteger,
      Math.max(1, navigator.hardwareConcurrency ?? 2),
    )
    .addOption(
      new Option("--backend <name>", "TensorFlow.js backend").choices(BACKEND_NAMES).default(
        "wasm",
      ),
    )
    .showHelpAfterError("(run with --help for every flag)")
    .allowExcessArguments(false)
    .exitOverride();
}

/**
 * Maps the data's class indices to the model's. The data may hold a subset
 * of the model's classes (photos from another source often lack some), but
 * no class the model does not know.
 */
export function labelsForModel(modelClasses: string[], dataClasses: string[]): number[] {
  // Folder names match class names without regard to case ("Glass" is glass).
  const lower = modelClasses.map((name) => name.toLowerCase());
  const indexOf = (name: string) => lower.indexOf(name.toLowerCase());
  const unknown = dataClasses.filter((name) => indexOf(name) < 0);
  if (unknown.length > 0) {
    throw new Error(
      `The data has class folders the model does not know: ${unknown.join(", ")}. ` +
        `The model's classes are ${modelClasses.join(", ")}; rename or remove the other folders.`,
    );
  }
  if (dataClasses.length < modelClasses.length) {
    logger.info("Evaluating on {n} of the model's {m} classes: {names}", {
      n: dataClasses.length,
      m: modelClasses.length,
      names: dataClasses.join(", "),
    });
  }
  return dataClasses.map(indexOf);
}

/** Share of photos flagged uncertain under the model's calibration, and accuracy on the rest. */
export function uncertainSummary(
  logits: Float32Array,
  labels: number[],
  calibration: CalibrationSpec,
) {
  const scores = topScores(logits, labels, calibration.temperature);
  const { keptShare, accuracyKept } = keptAt(scores, calibration.uncertainThreshold);
  return {
    temperature: calibration.temperature,
    uncertainThreshold: calibration.uncertainThreshold,
    flaggedShare: 1 - keptShare,
    accuracyKept,
  };
}

/** Returns the class names and the samples that `--data`, `--split` and `--subset` select. */
export async function selectSamples(
  options: { data: string; split?: string; subset: string },
): Promise<{ classNames: string[]; samples: Sample[] }> {
  const dataset = await scanImageFolder(options.data);
  if (options.subset === "all") return { classNames: dataset.classNames, samples: dataset.samples };
  if (!options.split) {
    throw new Error(`--subset ${options.subset} needs --split with the list files.`);
  }
  const split = await readSplitDir(options.split, dataset);
  const samples = split[options.subset as "train" | "val" | "test"];
  if (samples.length === 0) {
    throw new Error(`The split in ${options.split} has no ${options.subset} list.`);
  }
  return { classNames: dataset.classNames, samples };
}

/**
 * Selects the photos that `--data`, `--split` and `--subset` name, labels
 * them with the model's class indices, and decodes them at the size the
 * model's evaluation resize needs. Unreadable files are logged and skipped.
 */
export async function decodeForModel(
  selection: { data: string; split?: string; subset: string },
  metadata: Pick<ModelMetadata, "classNames" | "input">,
  options: { workers: number },
): Promise<DecodeAllResult> {
  const selected = await selectSamples(selection);
  const toModel = labelsForModel(metadata.classNames, selected.classNames);
  const samples = selected.samples.map((sample) => ({ ...sample, label: toModel[sample.label] }));
  const { input } = metadata;
  const pool = new DecoderPool({ size: options.workers });
  let result: DecodeAllResult;
  try {
    result = await decodeAll(samples, {
      pool,
      cacheMinSide: Math.round(input.imgSize / input.resizeRatio),
      downscale: downscaleForCache,
    });
  } finally {
    pool.close();
  }
  if (result.skipped.length > 0) {
    logger.warn("Skipped {n} unreadable files: {list}", {
      n: result.skipped.length,
      list: result.skipped.map((s) => `${s.path} (${s.reason})`).join("; "),
    });
  }
  return result;
}

async function main(): Promise<number> {
  const command = evaluateCommand();
  command.parse(Deno.args, { from: "user" });
  const options = command.opts();
  const backend = await useBackend(options.backend as BackendName);
  const { model, metadata } = await loadModelDir(options.model);
  const classNames = metadata.classNames;
  const { input } = metadata;
  const { decoded, skipped } = await decodeForModel(
    options as { data: string; split?: string; subset: string },
    metadata,
    { workers: options.workers },
  );
  const preprocess = {
    imgSize: input.imgSize,
    mean: input.mean,
    std: input.std,
    resizeRatio: input.resizeRatio,
  };
  const tally = await runEval(model, decoded, {
    batchSize: options.batchSize,
    preprocess,
    numClasses: classNames.length,
  });
  const metrics = metricsFromConfusion(tally.confusion, classNames, tally.lossSum / tally.seen);
  const uncertain = metadata.calibration
    ? uncertainSummary(tally.logits, decoded.map((d) => d.sample.label), metadata.calibration)
    : null;
  await Deno.mkdir(options.out, { recursive: true });
  await writeJsonAtomic(`${options.out}/metrics.json`, {
    model: { dir: options.model, modelId: metadata.modelId, modelVersion: metadata.modelVersion },
    data: {
      root: options.data,
      split: options.split ?? null,
      subset: options.subset,
      images: decoded.length,
    },
    backend: backend.backend,
    skippedFiles: skipped,
    metrics,
    uncertain,
  });
  await writeConfusionPlot(
    options.out,
    options.subset,
    metrics,
    classNames,
    `${metadata.modelId} on ${options.subset}`,
  );
  console.log(
    `${options.subset}: ${decoded.length} images, loss ${metrics.loss.toFixed(4)}, accuracy ${
      (metrics.accuracy * 100).toFixed(2)
    }%`,
  );
  console.log(formatMetricsTable(metrics));
  if (uncertain) {
    console.log(
      `uncertain (calibrated top score under ${uncertain.uncertainThreshold.toFixed(3)}): ${
        (uncertain.flaggedShare * 100).toFixed(1)
      }% of images flagged; accuracy on the rest ${(uncertain.accuracyKept * 100).toFixed(2)}%`,
    );
  }
  model.dispose();
  return 0;
}

if (import.meta.main) await runCli(main);
