/**
 * Everything a training run checks and builds before it writes a file: the
 * output folder, the data, the network with its freezing and pretrained
 * weights, and on `--resume` that the data still matches the saved run.
 * A run that fails here leaves `--out` as it was.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { resolve } from "node:path";
import { getLogger } from "../shared/log.ts";
import { type BackendChoice, useBackend } from "../shared/backend.ts";
import { classMap } from "./data/image_folder.ts";
import type { TrainConfig } from "./config.ts";
import { prepareData, type PreparedData } from "./dataset_setup.ts";
import { applyFreezePolicy } from "./freeze.ts";
import { buildModel, RESIZE_RATIO } from "./model_factory.ts";
import { applyPretrained, type PretrainedReport } from "./pretrained.ts";
import { findCheckpoint } from "./checkpoint.ts";
import { exists, writeJsonAtomic } from "./files.ts";

const logger = getLogger(["waste-vision", "train"]);

/** Result of {@linkcode prepareRun}. */
export interface PreparedRun {
  backend: BackendChoice;
  data: PreparedData;
  model: tf.LayersModel;
  pretrained?: PretrainedReport;
}

function isInside(child: string, parent: string): boolean {
  const a = resolve(child);
  const b = resolve(parent);
  return a === b || a.startsWith(`${b}/`);
}

/** Checks that `--out` can take this run, before anything is read or written. */
export async function checkOutputFolder(config: TrainConfig): Promise<void> {
  if (config.data && isInside(config.out, config.data)) {
    throw new Error(
      `--out ${config.out} is inside --data ${config.data}; its files would become part of the data. ` +
        "Choose an output folder outside the data folder.",
    );
  }
  if (config.resume) {
    await findCheckpoint(`${config.out}/checkpoints/last`);
    return;
  }
  const hasRun = await exists(`${config.out}/train_log.json`) ||
    await exists(`${config.out}/checkpoints/last`) ||
    await exists(`${config.out}/checkpoints/last.old`);
  if (hasRun) {
    throw new Error(
      `Output folder ${config.out} already contains a run. Pass --resume to continue it, or choose another --out.`,
    );
  }
}

interface SavedDataset {
  classNames: string[];
  sizes?: Record<string, number>;
  classCounts: Record<string, Record<string, number>>;
}

/**
 * Checks on `--resume` that the data gives the same classes and the same
 * split sizes as the saved run, because the checkpoint's classifier and the
 * promised split depend on them.
 */
async function checkResumedData(out: string, data: PreparedData): Promise<void> {
  const saved = JSON.parse(await Deno.readTextFile(`${out}/dataset.json`)) as SavedDataset;
  if (saved.classNames.join("\n") !== data.classNames.join("\n")) {
    throw new Error(
      `--resume: the data now has classes ${
        data.classNames.join(", ")
      } but the run was started with ` +
        `${
          saved.classNames.join(", ")
        }. Restore the data folder, or start a new run with another --out.`,
    );
  }
  for (const split of ["train", "val", "test"] as const) {
    const before = JSON.stringify(saved.classCounts[split]);
    const now = JSON.stringify(data.counts[split]);
    if (before !== now) {
      throw new Error(
        `--resume: the ${split} images per class changed from ${before} to ${now}. ` +
          "Resuming needs the same split; restore the data, or start a new run with another --out.",
      );
    }
  }
}

/** Starts the backend, reads the data and builds the network. Writes nothing. */
export async function prepareRun(config: TrainConfig): Promise<PreparedRun> {
  await checkOutputFolder(config);
  const backend = await useBackend(config.backend, { training: true });
  logger.info("Backend {backend}: {reason}", { ...backend });
  const data = await prepareData(config.data, {
    splitDir: config.split,
    valFraction: config.valFraction,
    seed: config.seed,
    cacheMinSide: Math.round(config.imgSize / RESIZE_RATIO),
    workers: config.workers,
  });
  if (config.resume) await checkResumedData(config.out, data);
  logger.info("Classes: {names}", { names: data.classNames.join(", ") });
  for (const split of ["train", "val", "test"] as const) {
    logger.info("{split}: {n} images {counts}", {
      split,
      n: data[split].length,
      counts: JSON.stringify(data.counts[split]),
    });
  }
  const model = buildModel(config, data.classNames.length);
  try {
    // Freezing first: the pretrained loader may then keep folded BatchNorm
    // layers in inference mode, which the freeze policy would otherwise reset.
    applyFreezePolicy(model, config);
    const pretrained = config.pretrained
      ? await applyPretrained(model, config.pretrained)
      : undefined;
    return { backend, data, model, pretrained };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Writes the files that describe a new run: config, class map and dataset summary. */
export async function writeRunFiles(
  config: TrainConfig,
  command: string,
  data: PreparedData,
): Promise<void> {
  await Deno.mkdir(`${config.out}/checkpoints`, { recursive: true });
  await writeJsonAtomic(`${config.out}/config.json`, { command, ...config });
  await writeJsonAtomic(`${config.out}/class_map.json`, classMap(data.classNames));
  await writeJsonAtomic(`${config.out}/dataset.json`, {
    classNames: data.classNames,
    split: data.splitSource,
    sizes: { train: data.train.length, val: data.val.length, test: data.test.length },
    classCounts: data.counts,
    skippedFiles: data.skipped,
  });
}
