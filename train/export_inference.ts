/**
 * Exports a model folder for inference: BatchNorm folded into the
 * convolutions (`shared/model/fold.ts`) and kernels stored as float16 or
 * uint8 (`shared/model/quantize.ts`). The result is a standard TF.js layers
 * model folder with format version 2 that `loadModelDir`, the edge service
 * and browsers load without extra code. A folded model cannot be trained
 * further, so keep the original folder for fine-tuning.
 *
 * Usable as a module ({@linkcode saveInferenceExport},
 * {@linkcode addInferenceExportOptions}) and as a command that converts an
 * existing folder, such as a training run's `model/`:
 *
 * @example
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys train/export_inference.ts \
 *   --model runs/r18/model --out weights/r18-f16 --fold --quantize float16
 * ```
 * @module
 */
import { Command, Option } from "commander";
import type * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/backend.ts";
import { foldBatchNorm } from "../shared/model/fold.ts";
import { loadModelDir, saveModelDir, type SaveModelOptions } from "../shared/model/io.ts";
import {
  type ModelMetadata,
  WEIGHT_QUANTIZATIONS,
  type WeightQuantization,
} from "../shared/model/metadata.ts";
import { getLogger } from "../shared/log.ts";
import { runCli } from "./cli.ts";

const logger = getLogger(["waste-vision", "export"]);

/** How to prepare a model folder for inference. */
export interface InferenceExportOptions {
  /** Fold BatchNorm into the convolutions. Default: `false`. */
  fold?: boolean;
  /** Storage of the kernels. Default: `"float32"`. */
  quantize?: WeightQuantization;
}

/** Adds `--fold` and `--quantize <mode>` to a command that writes a model folder. */
export function addInferenceExportOptions(command: Command): Command {
  return command
    .option("--fold", "fold BatchNorm into the convolutions (inference only; smaller, faster)")
    .addOption(
      new Option("--quantize <mode>", "storage of the exported kernels")
        .choices(WEIGHT_QUANTIZATIONS)
        .default("float32"),
    );
}

/** Returns whether `options` change the folder compared with a plain export. */
export function changesExport(options: InferenceExportOptions): boolean {
  return options.fold === true || (options.quantize ?? "float32") !== "float32";
}

/**
 * Writes `model` to `dir` as {@linkcode InferenceExportOptions} ask:
 * folded and quantized, with `metadata.inference` recording both. With
 * neither option, this is `saveModelDir` unchanged. `model` is not modified.
 */
export async function saveInferenceExport(
  dir: string,
  model: tf.LayersModel,
  metadata: ModelMetadata,
  options: InferenceExportOptions & SaveModelOptions = {},
): Promise<void> {
  const { fold, quantize, ...saveOptions } = options;
  if (!changesExport(options)) {
    await saveModelDir(dir, model, metadata, saveOptions);
    return;
  }
  const folded = fold ? foldBatchNorm(model) : undefined;
  const inference = {
    batchNormFolded: fold === true || metadata.inference?.batchNormFolded === true,
    weightQuantization: quantize ?? "float32",
  };
  try {
    await saveModelDir(dir, folded?.model ?? model, { ...metadata, inference }, saveOptions);
  } finally {
    folded?.model.dispose();
  }
  logger.info("Exported {dir}: BatchNorm folded {folded} ({count} layers), weights {quantize}", {
    dir,
    folded: inference.batchNormFolded,
    count: folded?.foldedCount ?? 0,
    quantize: inference.weightQuantization,
  });
}

/** Converts the model folder `--model` into an inference export in `--out`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = addInferenceExportOptions(
    new Command("export_inference")
      .description("Write a model folder folded and quantized for inference.")
      .requiredOption("--model <dir>", "model folder to convert")
      .requiredOption("--out <dir>", "output model folder; an existing folder is replaced"),
  ).exitOverride();
  program.parse(args, { from: "user" });
  const flags = program.opts<
    { model: string; out: string; fold?: boolean; quantize: WeightQuantization }
  >();
  if (!changesExport(flags)) {
    program.error("error: nothing to do; pass --fold, --quantize float16 or --quantize uint8", {
      exitCode: 2,
    });
  }
  await useBackend("cpu");
  const { model, metadata } = await loadModelDir(flags.model);
  try {
    await saveInferenceExport(flags.out, model, metadata, flags);
  } finally {
    model.dispose();
  }
  return 0;
}

if (import.meta.main) await runCli(() => main(Deno.args));
