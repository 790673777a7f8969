/**
 * `deno task import`: converts a PyTorch checkpoint (torch.save `.pth`/`.pt`
 * or `.safetensors`) of a ResNet or MobileNetV2, with or without CBAM, into a
 * model folder: TF.js `model.json` and weight shards, `labels.json`,
 * `metadata.json` and `import.json` (where the weights came from).
 *
 * The class count comes from the checkpoint's classifier. By default the
 * CBAM placement, CBAM sizes and the ResNet stem width are read from the
 * checkpoint's keys and shapes too; `--cbam` overrides the placement.
 *
 * @example
 * ```sh
 * deno task import resnet18_cbam.pth --model resnet18 --cbam stages \
 *   --labels classes.txt --out weights/resnet18-imported
 * ```
 * @module
 */
import { Command, InvalidArgumentError } from "commander";
import type * as tf from "@tensorflow/tfjs";
import { useBackend } from "../shared/backend.ts";
import { getLogger } from "../shared/log.ts";
import {
  type ArchitectureSpec,
  MODEL_FORMAT_VERSION,
  type ModelMetadata,
  type WeightQuantization,
} from "../shared/model/metadata.ts";
import {
  buildMobileNetV2,
  MOBILENET_V2_CBAM_FEATURES,
  type MobileNetV2CbamPlacement,
} from "../shared/model/mobilenet_v2.ts";
import {
  buildResNet,
  type CbamPlacement,
  RESNET_DEPTHS,
  type ResNetDepth,
} from "../shared/model/resnet.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../shared/preprocess.ts";
import {
  applyStateDict,
  guessModelName,
  inferCbamSizes,
  inferClassCount,
  inferMobileNetV2Cbam,
  inferResNetBaseWidth,
  inferResNetCbam,
  loadStateDictFile,
  type StateDict,
  TorchCheckpointError,
} from "../shared/torch/mod.ts";
import { runCli } from "./cli.ts";
import {
  addInferenceExportOptions,
  type InferenceExportOptions,
  saveInferenceExport,
} from "./export_inference.ts";

const logger = getLogger(["waste-vision", "import"]);

/** Model names that `--model` accepts. */
export const IMPORT_MODELS: readonly string[] = [
  ...RESNET_DEPTHS.map((depth) => `resnet${depth}`),
  "mobilenet_v2",
];

/** Resize ratio of eval preprocessing: shorter side round(imgSize / 0.875), 256 for 224. */
const RESIZE_RATIO = 0.875;
const DEFAULT_CBAM_REDUCTION = 16;
const DEFAULT_CBAM_KERNEL_SIZE = 7;
const MOBILENET_V2_STEM_CHANNELS = 32;

/** Options of {@linkcode importCheckpoint}, one per command-line flag. */
export interface ImportOptions extends InferenceExportOptions {
  /** Path of the `.pth`, `.pt` or `.safetensors` file. */
  checkpoint: string;
  /** One of {@linkcode IMPORT_MODELS}. */
  model: string;
  /**
   * `auto` (read from the checkpoint keys), `none`, `stages`, `blocks`
   * (ResNet only), or a list: `layer1,layer3` for ResNet, `features.3,features.17`
   * for MobileNetV2. Default: `auto`.
   */
  cbam?: string;
  /** Class names file: one name per line, or the JSON map `{"0": "cardboard", ...}`. */
  labels?: string;
  /** Side of the square input in pixels. Default: 224. */
  imgSize?: number;
  /** Output model folder; replaced if it exists. */
  out: string;
}

/** Summary of a finished {@linkcode importCheckpoint}. */
export interface ImportResult {
  metadata: ModelMetadata;
  /** Number of tensors copied from the checkpoint. */
  tensorCount: number;
}

/**
 * Reads a checkpoint, rebuilds the network it contains, copies its weights with
 * exact layout conversion, and writes the model folder.
 *
 * @throws {TorchCheckpointError} for an unreadable checkpoint, one without a
 * classifier, or one that does not match the requested model.
 * @throws {Error} for invalid options or a labels file that does not fit.
 */
export async function importCheckpoint(options: ImportOptions): Promise<ImportResult> {
  const imgSize = options.imgSize ?? 224;
  if (!IMPORT_MODELS.includes(options.model)) {
    throw new Error(`Unknown --model "${options.model}". Use one of: ${IMPORT_MODELS.join(", ")}.`);
  }
  const stateDict = await loadStateDictFile(options.checkpoint);
  const guessed = guessModelName(stateDict);
  if (guessed !== undefined && guessed !== options.model) {
    throw new TorchCheckpointError(
      `${options.checkpoint} contains a ${guessed} (judging by its keys), but --model is ` +
        `${options.model}. Pass --model ${guessed}.`,
    );
  }
  const architecture = architectureFor(options.model, stateDict, options.cbam ?? "auto");
  const classifier = options.model === "mobilenet_v2" ? "classifier.1" : "fc";
  const numClasses = inferClassCount(stateDict, classifier);
  if (numClasses === undefined) {
    throw new TorchCheckpointError(
      `${options.checkpoint} has no classifier ("${classifier}.weight"), so it cannot be used ` +
        `as a finished model. To fine-tune from its backbone, use ` +
        `deno task train --pretrained ${options.checkpoint}.`,
    );
  }
  const classNames = options.labels
    ? await readLabels(options.labels, numClasses)
    : defaultClassNames(numClasses);

  const model = buildArchitecture(architecture, numClasses, imgSize);
  try {
    applyStateDict(model, stateDict);
    const metadata = importMetadata(options.model, architecture, classNames, imgSize);
    await saveInferenceExport(options.out, model, metadata, {
      fold: options.fold,
      quantize: options.quantize,
      extraFiles: {
        "import.json": {
          checkpoint: options.checkpoint,
          tensorCount: stateDict.size,
          importedAt: metadata.createdAt,
        },
      },
    });
    logger.info("Imported {count} tensors from {checkpoint} into {out} ({model}, cbam {cbam})", {
      count: stateDict.size,
      checkpoint: options.checkpoint,
      out: options.out,
      model: options.model,
      cbam: JSON.stringify(architecture.cbam),
    });
    return { metadata, tensorCount: stateDict.size };
  } finally {
    model.dispose();
  }
}

/**
 * Reads class names in logit order: one name per line (blank lines
 * ignored), a JSON array, or the JSON map `{"0": "cardboard", ...}`.
 *
 * @throws {Error} when the file is missing, the names are not unique, the
 * map's keys are not 0 to n-1, or the count differs from `numClasses`.
 */
export async function readLabels(path: string, numClasses: number): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`Labels file not found: ${path}.`, { cause: error });
    }
    throw error;
  }
  const names = parseLabels(text, path);
  if (names.length !== numClasses) {
    throw new Error(
      `${path} lists ${names.length} class names, but the checkpoint's classifier has ` +
        `${numClasses} outputs. Give one name per output, in logit order.`,
    );
  }
  const duplicates = names.filter((name, i) => names.indexOf(name) !== i);
  if (duplicates.length > 0) {
    throw new Error(`${path} repeats class names: ${[...new Set(duplicates)].join(", ")}.`);
  }
  return names;
}

function parseLabels(text: string, path: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) {
    return trimmed.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(value) && value.every((name) => typeof name === "string")) return value;
  if (Array.isArray(value) || value === null) {
    throw new Error(`${path} must hold a JSON array of strings or a map {"0": "name", ...}.`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const names: string[] = [];
  entries.forEach((_, index) => {
    const name = (value as Record<string, unknown>)[String(index)];
    if (typeof name !== "string") {
      throw new Error(
        `${path} must map every index from 0 to ${entries.length - 1} to a class name; ` +
          `"${index}" is missing or not a string.`,
      );
    }
    names.push(name);
  });
  return names;
}

function defaultClassNames(numClasses: number): string[] {
  logger.warn(
    "No --labels given: the {count} classes are named class_0 to class_{last}. " +
      "Pass --labels FILE (one name per line) to name them.",
    { count: numClasses, last: numClasses - 1 },
  );
  return Array.from({ length: numClasses }, (_, i) => `class_${i}`);
}

/** Returns the architecture of the checkpoint for `--model` and `--cbam`. */
export function architectureFor(
  modelName: string,
  stateDict: StateDict,
  cbamFlag: string,
): ArchitectureSpec {
  const sizes = inferCbamSizes(stateDict);
  const cbamReduction = sizes?.reduction ?? DEFAULT_CBAM_REDUCTION;
  const cbamKernelSize = sizes?.kernelSize ?? DEFAULT_CBAM_KERNEL_SIZE;
  if (modelName === "mobilenet_v2") {
    const stem = stateDict.get("features.0.0.weight")?.shape[0];
    if (stem !== undefined && stem !== MOBILENET_V2_STEM_CHANNELS) {
      throw new TorchCheckpointError(
        `The checkpoint's MobileNetV2 stem has ${stem} channels, but only width 1.0 ` +
          `(${MOBILENET_V2_STEM_CHANNELS} channels) can be imported.`,
      );
    }
    const cbam = cbamFlag === "auto"
      ? inferMobileNetV2Cbam(stateDict)
      : parseMobileNetV2Cbam(cbamFlag);
    return { family: "mobilenet_v2", cbam, cbamReduction, cbamKernelSize };
  }
  const depth = Number(modelName.replace(/^resnet/, "")) as ResNetDepth;
  const cbam = cbamFlag === "auto" ? inferResNetCbam(stateDict) : parseResNetCbam(cbamFlag);
  const baseWidth = inferResNetBaseWidth(stateDict);
  return {
    family: "resnet",
    depth,
    cbam,
    cbamReduction,
    cbamKernelSize,
    ...(baseWidth !== undefined && baseWidth !== 64 ? { baseWidth } : {}),
  };
}

/** Parses a ResNet `--cbam` value: none, stages, blocks or `layer1,layer3`. */
export function parseResNetCbam(value: string): CbamPlacement {
  if (value === "none") return { kind: "none" };
  if (value === "blocks") return { kind: "blocks" };
  if (value === "stages") return { kind: "stages", stages: [1, 2, 3, 4] };
  const parts = value.split(",").map((part) => part.trim());
  const stages = parts.map((part) => Number(/^layer([1-4])$/.exec(part)?.[1]));
  if (stages.some((stage) => Number.isNaN(stage))) {
    throw new Error(
      `Invalid --cbam "${value}" for a ResNet. Use auto, none, stages, blocks, or a list ` +
        `of stages such as layer1,layer3.`,
    );
  }
  return { kind: "stages", stages: [...new Set(stages)].sort((a, b) => a - b) };
}

/** Parses a MobileNetV2 `--cbam` value: none, stages, or `features.3,features.17`. */
export function parseMobileNetV2Cbam(value: string): MobileNetV2CbamPlacement {
  if (value === "none") return { kind: "none" };
  if (value === "stages") {
    return { kind: "stages", stages: MOBILENET_V2_CBAM_FEATURES.map((_, i) => i + 1) };
  }
  const parts = value.split(",").map((part) => part.trim());
  const positions = parts.map((part) => {
    const index = Number(/^features\.(\d+)$/.exec(part)?.[1]);
    return MOBILENET_V2_CBAM_FEATURES.indexOf(index) + 1;
  });
  if (positions.some((position) => position === 0)) {
    const allowed = MOBILENET_V2_CBAM_FEATURES.map((index) => `features.${index}`).join(", ");
    throw new Error(
      `Invalid --cbam "${value}" for MobileNetV2. Use auto, none, stages, or a list of ` +
        `feature blocks from: ${allowed}.`,
    );
  }
  return { kind: "stages", stages: [...new Set(positions)].sort((a, b) => a - b) };
}

function buildArchitecture(
  architecture: ArchitectureSpec,
  numClasses: number,
  imgSize: number,
): tf.LayersModel {
  const cbamOptions = {
    cbamReduction: architecture.cbamReduction,
    cbamKernelSize: architecture.cbamKernelSize,
  };
  if (architecture.family === "mobilenet_v2") {
    return buildMobileNetV2({ numClasses, imgSize, cbam: architecture.cbam, ...cbamOptions });
  }
  return buildResNet({
    depth: architecture.depth,
    numClasses,
    imgSize,
    cbam: architecture.cbam,
    baseWidth: architecture.baseWidth,
    ...cbamOptions,
  });
}

function importMetadata(
  modelName: string,
  architecture: ArchitectureSpec,
  classNames: string[],
  imgSize: number,
): ModelMetadata {
  const now = new Date().toISOString();
  const cbamSuffix = architecture.cbam.kind === "none" ? "" : "-cbam";
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: `${modelName}${cbamSuffix}-imported`,
    modelVersion: now.replace(/\.\d+Z$/, "Z"),
    architecture,
    input: {
      imgSize,
      resizeRatio: RESIZE_RATIO,
      mean: [...IMAGENET_MEAN] as [number, number, number],
      std: [...IMAGENET_STD] as [number, number, number],
      layout: "NHWC",
    },
    classNames,
    createdAt: now,
  };
}

function parseImgSize(value: string): number {
  const size = Number(value);
  if (!Number.isInteger(size) || size < 32) {
    throw new InvalidArgumentError(`Expected an integer of at least 32 pixels, got "${value}".`);
  }
  return size;
}

/** Parses the command line and runs the import; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const command = new Command("import")
    .description("Convert a PyTorch checkpoint into a TF.js model folder with labels and metadata.")
    .argument("<checkpoint>", "torch.save file (.pth, .pt) or .safetensors file")
    .requiredOption("--model <name>", `network in the checkpoint: ${IMPORT_MODELS.join(", ")}`)
    .option(
      "--cbam <placement>",
      "CBAM placement: auto (read from the checkpoint), none, stages, blocks (ResNet), " +
        "or a list such as layer1,layer3 (ResNet) or features.3,features.17 (MobileNetV2)",
      "auto",
    )
    .option("--labels <file>", 'class names: one per line, or the JSON map {"0": "name"}')
    .option("--img-size <pixels>", "side of the square input in pixels", parseImgSize, 224)
    .requiredOption("--out <dir>", "output model folder; an existing folder is replaced");
  const program = addInferenceExportOptions(command).exitOverride();
  program.parse(args, { from: "user" });
  const flags = program.opts<{
    model: string;
    cbam: string;
    labels?: string;
    imgSize: number;
    out: string;
    fold?: boolean;
    quantize: WeightQuantization;
  }>();
  await useBackend("cpu");
  await importCheckpoint({ checkpoint: program.args[0], ...flags });
  return 0;
}

if (import.meta.main) await runCli(() => main(Deno.args));
