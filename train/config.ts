/**
 * Command-line flags of `deno task train`, in groups, and the resolved
 * configuration that is saved as `config.json` next to the run's outputs.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { BACKEND_NAMES, type BackendName } from "../shared/backend.ts";
import { OPTIMIZER_NAMES, type OptimizerName } from "./optim.ts";

/** Model names accepted by `--model`. */
export const MODEL_NAMES = [
  "resnet18",
  "resnet34",
  "resnet50",
  "resnet101",
  "resnet152",
  "mobilenet_v2",
] as const;
/** A model name. */
export type ModelName = typeof MODEL_NAMES[number];

/** Class-imbalance handling modes. */
export const BALANCE_MODES = ["none", "weights", "sampler"] as const;
/** A class-imbalance mode. */
export type BalanceMode = typeof BALANCE_MODES[number];

/** Every setting of a training run, after defaults are applied. */
export interface TrainConfig {
  model: ModelName;
  /** `none`, `stages` (after every stage), `blocks`, or a list such as `layer1,layer3`. */
  cbam: string;
  cbamReduction: number;
  cbamKernelSize: number;
  pretrained?: string;
  freezeLayers: boolean;
  trainableFrom?: string;
  bnEval: boolean;
  data: string;
  split?: string;
  valFraction: number;
  imgSize: number;
  augment: boolean;
  /** Color jitter strength (0: off); see `AugmentOptions.colorJitter`. */
  colorJitter: number;
  /** Probability of a random Gaussian blur (0: off). */
  blur: number;
  balance: BalanceMode;
  workers: number;
  epochs: number;
  batchSize: number;
  optim: OptimizerName;
  lr: number;
  lrf: number;
  weightDecay: number;
  momentum: number;
  seed: number;
  out: string;
  backend: BackendName;
  resume: boolean;
  checkpointEvery: number;
  modelId?: string;
}

function positiveInteger(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}".`);
    }
    return parsed;
  };
}

function integerIn(name: string, low: number, high: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < low || parsed > high) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${low} to ${high}, got "${value}".`,
      );
    }
    return parsed;
  };
}

function oddPositiveInteger(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed % 2 === 0) {
      throw new InvalidArgumentError(
        `${name} must be an odd positive integer such as 7, got "${value}".`,
      );
    }
    return parsed;
  };
}

function nonNegativeInteger(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) {
      throw new InvalidArgumentError(`${name} must be an integer of at least 0, got "${value}".`);
    }
    return parsed;
  };
}

function numberIn(name: string, low: number, high: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed) || parsed < low || parsed > high) {
      throw new InvalidArgumentError(
        `${name} must be a number from ${low} to ${high}, got "${value}".`,
      );
    }
    return parsed;
  };
}

function cbamPlacement(value: string): string {
  const normalized = value.trim().toLowerCase();
  if (["none", "stages", "blocks"].includes(normalized)) return normalized;
  const stages = normalized.split(",").map((s) => s.trim());
  const isStage = (s: string) => /^layer[1-4]$/.test(s) || /^features\.(3|6|13|17|18)$/.test(s);
  if (stages.length > 0 && stages.every(isStage)) return stages.join(",");
  throw new InvalidArgumentError(
    "--cbam must be none, stages, blocks, or a list of stage ends such as layer1,layer3 " +
      `(ResNet) or features.13,features.18 (MobileNetV2); got "${value}".`,
  );
}

/** Builds the `train` command with its flags in groups. */
export function trainCommand(): Command {
  const command = new Command("train")
    .description(
      "Train a ResNet or MobileNetV2 image classifier with CBAM on an ImageFolder and export it as a TF.js layers model.",
    )
    .showHelpAfterError("(run with --help for every flag)")
    .allowExcessArguments(false);

  command.optionsGroup("Model:")
    .addOption(new Option("--model <name>", "network").choices(MODEL_NAMES).default("resnet18"))
    .option(
      "--cbam <placement>",
      "CBAM placement: none, stages (after each stage), blocks (inside every ResNet block), or a list such as layer1,layer3 (ResNet) or features.13,features.18 (MobileNetV2)",
      cbamPlacement,
      "stages",
    )
    .option(
      "--cbam-reduction <r>",
      "CBAM channel reduction ratio",
      positiveInteger("--cbam-reduction"),
      16,
    )
    .option(
      "--cbam-kernel <k>",
      "CBAM spatial kernel size (odd)",
      oddPositiveInteger("--cbam-kernel"),
      7,
    )
    .option(
      "--pretrained <checkpoint>",
      "start from a PyTorch checkpoint (.pth, .pt or .safetensors)",
    )
    .option("--freeze-layers", "train only the CBAM modules and the classifier", false)
    .option("--trainable-from <stage>", "freeze every layer before this stage, e.g. layer3")
    .option(
      "--bn-eval",
      "keep every BatchNorm layer in inference mode (running statistics)",
      false,
    );

  command.optionsGroup("Data:")
    .option(
      "--data <dir>",
      "ImageFolder root: one sub-folder of images per class (required unless --resume)",
    )
    .option("--split <dir>", "folder with *_train.txt, *_val.txt and optional *_test.txt lists")
    .option(
      "--val-fraction <f>",
      "fraction of each class held out for validation when --split is not given",
      numberIn("--val-fraction", 0.01, 0.9),
      0.2,
    )
    .option(
      "--img-size <px>",
      "side of the square input crop in pixels (32 to 1024)",
      integerIn("--img-size", 32, 1024),
      224,
    )
    .option("--no-augment", "turn off random resized crop and horizontal flip")
    .option(
      "--color-jitter <s>",
      "random brightness, contrast and saturation factors in [1-s, 1+s] (0: off)",
      numberIn("--color-jitter", 0, 1),
      0,
    )
    .option(
      "--blur <p>",
      "probability of a random Gaussian blur, sigma 0.1 to 2 px, which hides sharpness differences between classes (0: off)",
      numberIn("--blur", 0, 1),
      0,
    )
    .addOption(
      new Option(
        "--balance <mode>",
        "class imbalance: none, weights (class-weighted loss) or sampler (balanced sampling)",
      ).choices(BALANCE_MODES).default("none"),
    )
    .option(
      "--workers <n>",
      "image decoding workers",
      positiveInteger("--workers"),
      Math.max(1, navigator.hardwareConcurrency ?? 2),
    );

  command.optionsGroup("Optimization:")
    .option("--epochs <n>", "number of epochs", positiveInteger("--epochs"), 30)
    .option("--batch-size <n>", "images per batch", positiveInteger("--batch-size"), 32)
    .addOption(new Option("--optim <name>", "optimizer").choices(OPTIMIZER_NAMES).default("adamw"))
    .option("--lr <rate>", "initial learning rate", numberIn("--lr", 0, 10), 1e-3)
    .option(
      "--lrf <factor>",
      "final learning rate as a fraction of --lr (cosine decay)",
      numberIn("--lrf", 0, 1),
      0.01,
    )
    .option(
      "--weight-decay <wd>",
      "weight decay: L2 for sgd and adam, decoupled for adamw",
      numberIn("--weight-decay", 0, 1),
      0.01,
    )
    .option("--momentum <m>", "SGD momentum", numberIn("--momentum", 0, 1), 0.9);

  command.optionsGroup("Run:")
    .option(
      "--seed <n>",
      "seed of the split, shuffling, augmentation and initialization",
      nonNegativeInteger("--seed"),
      0,
    )
    .option(
      "--out <dir>",
      "output folder for the log, plots, checkpoints and exported model",
      "runs/train",
    )
    .addOption(
      new Option("--backend <name>", "TensorFlow.js backend").choices(BACKEND_NAMES).default(
        "auto",
      ),
    )
    .option("--resume", "continue the run in --out from its last checkpoint", false)
    .option(
      "--checkpoint-every <steps>",
      "also checkpoint every N steps within an epoch (0: only at epoch ends)",
      nonNegativeInteger("--checkpoint-every"),
      50,
    )
    .option(
      "--model-id <id>",
      "model id written to metadata.json (default: from the model and CBAM placement)",
    );
  return command;
}

/** Parses `args` (without the program name) into a {@linkcode TrainConfig}. */
export function parseTrainArgs(args: string[]): { config: TrainConfig; explicit: Set<string> } {
  const command = trainCommand();
  command.exitOverride();
  command.parse(args, { from: "user" });
  const options = command.opts();
  if (!options.resume && !options.data) {
    command.error("error: required option '--data <dir>' not specified", { exitCode: 2 });
  }
  const explicit = new Set(
    Object.keys(options).filter((key) => command.getOptionValueSource(key) === "cli"),
  );
  if (!options.augment && (options.colorJitter > 0 || options.blur > 0)) {
    command.error(
      "error: --color-jitter and --blur are augmentations; they cannot be used with --no-augment",
      { exitCode: 2 },
    );
  }
  const config: TrainConfig = {
    model: options.model,
    cbam: options.cbam,
    cbamReduction: options.cbamReduction,
    cbamKernelSize: options.cbamKernel,
    pretrained: options.pretrained,
    freezeLayers: options.freezeLayers,
    trainableFrom: options.trainableFrom,
    bnEval: options.bnEval,
    data: options.data,
    split: options.split,
    valFraction: options.valFraction,
    imgSize: options.imgSize,
    augment: options.augment,
    colorJitter: options.colorJitter,
    blur: options.blur,
    balance: options.balance,
    workers: options.workers,
    epochs: options.epochs,
    batchSize: options.batchSize,
    optim: options.optim,
    lr: options.lr,
    lrf: options.lrf,
    weightDecay: options.weightDecay,
    momentum: options.momentum,
    seed: options.seed,
    out: options.out,
    backend: options.backend,
    resume: options.resume,
    checkpointEvery: options.checkpointEvery,
    modelId: options.modelId,
  };
  return { config, explicit };
}

/**
 * Flags that may differ on `--resume`. Every other setting comes from the
 * saved run. A new `--epochs` changes the cosine schedule from the resumed
 * epoch on, and when it equals the number of finished epochs the best epoch
 * is exported without further training.
 */
const RESUME_OVERRIDES = new Set(["backend", "workers", "checkpointEvery", "epochs"]);

/** Values for settings that a run saved before they existed did not record. */
const SAVED_CONFIG_DEFAULTS: Partial<TrainConfig> = { colorJitter: 0, blur: 0 };

/**
 * Replaces `config` with the one saved in `<out>/config.json` for `--resume`,
 * keeping only `--backend`, `--workers`, `--checkpoint-every` and `--epochs`
 * from the command line. Returns the names of flags that were given but
 * ignored.
 */
export async function resumeConfig(
  config: TrainConfig,
  explicit: Set<string>,
): Promise<{ config: TrainConfig; ignored: string[]; command: string }> {
  const path = `${config.out}/config.json`;
  let saved: TrainConfig & { command?: string };
  try {
    saved = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(
      `--resume: cannot read ${path} (${
        (error as Error).message
      }). Is --out the folder of the run?`,
    );
  }
  const { command, ...savedConfig } = saved;
  // Runs saved before an option existed resume with its "off" value.
  const merged: TrainConfig = {
    ...SAVED_CONFIG_DEFAULTS,
    ...savedConfig,
    resume: true,
    out: config.out,
  };
  for (const key of RESUME_OVERRIDES) {
    if (explicit.has(key)) {
      (merged as unknown as Record<string, unknown>)[key] =
        (config as unknown as Record<string, unknown>)[key];
    }
  }
  const ignored = [...explicit].filter((key) =>
    !RESUME_OVERRIDES.has(key) && !["resume", "out"].includes(key)
  );
  return { config: merged, ignored, command: command ?? "" };
}
