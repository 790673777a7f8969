/**
 * One measurement of the training benchmark, run by `scripts/bench_train.ts`
 * in a fresh process per configuration (so that each gets a clean heap and
 * its own wasm thread count, set with `TFJS_WASM_THREADS`).
 *
 * It trains ResNet-18 with CBAM after every stage (6 classes, seeded
 * weights) on one batch of random images with SGD (momentum 0.9): a few
 * untimed warm-up steps, then timed steps. It prints one JSON line.
 *
 * Modes:
 * - `full`: every layer trains.
 * - `frozen`: `--freeze-layers` (only CBAM and the classifier train), the
 *   frozen layers still run forward every step.
 * - `cached`: `frozen` with the frozen-prefix cache of train/feature_cache.ts.
 *   The timed steps run only the suffix model on cached activations. The
 *   one-time cost of filling the cache is reported per image.
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_train_measure.ts --backend wasm --img-size 128 --batch-size 16 --mode full
 * ```
 * @module
 */
import { Command, InvalidArgumentError } from "commander";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, useBackend } from "../shared/backend.ts";
import { buildResNet } from "../shared/model/resnet.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../shared/preprocess.ts";
import { Rng } from "../shared/random.ts";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { createFeatureCache } from "../train/feature_cache.ts";
import { applyFreezePolicy, trainableVariables } from "../train/freeze.ts";
import { TorchOptimizer } from "../train/optim.ts";
import { type Batch, trainStep } from "../train/step.ts";
import type { DecodedSample } from "../train/data/loader.ts";

/** Training modes of the benchmark. */
export const MODES = ["full", "frozen", "cached"] as const;
/** A training mode. */
export type Mode = typeof MODES[number];

/** Settings of one measurement. */
export interface MeasureOptions {
  backend: Exclude<BackendName, "auto">;
  imgSize: number;
  batchSize: number;
  mode: Mode;
  warmup: number;
  steps: number;
  profile: boolean;
}

/** Time spent in one kernel during a profiled step. */
export interface KernelTime {
  kernel: string;
  milliseconds: number;
  calls: number;
}

/** Result of one measurement, printed as one JSON line. */
export interface Measurement {
  backend: string;
  threads: number;
  imgSize: number;
  batchSize: number;
  mode: Mode;
  steps: number;
  seconds: number;
  imagesPerSecond: number;
  /** `cached` mode only: seconds per image to fill the cache, paid once per run. */
  fillSecondsPerImage?: number;
  /** With `--profile`: kernel times of one step, largest first. */
  profile?: KernelTime[];
}

const CLASSES = 6;
const SEED = 7;

function integer(name: string, min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(
        `${name} must be an integer of at least ${min}, got "${value}".`,
      );
    }
    return parsed;
  };
}

function parseOptions(args: string[]): MeasureOptions {
  const program = new Command()
    .name("bench_train_measure")
    .description("Time training steps of ResNet-18 + CBAM for one configuration.")
    .requiredOption("--backend <name>", "tfjs backend: cpu, wasm or webgpu")
    .option("--img-size <px>", "input height and width in pixels", integer("--img-size", 32), 224)
    .option("--batch-size <n>", "images per step", integer("--batch-size", 1), 16)
    .option("--mode <mode>", "full, frozen or cached", "full")
    .option("--warmup <n>", "untimed steps before timing", integer("--warmup", 0), 2)
    .option("--steps <n>", "timed steps", integer("--steps", 1), 3)
    .option("--profile", "print the kernel times of one extra step", false)
    .parse(["deno", "bench_train_measure", ...args]);
  const options = program.opts<MeasureOptions>();
  if (!["cpu", "wasm", "webgpu"].includes(options.backend)) {
    throw new Error(`--backend "${options.backend}" is not one of cpu, wasm, webgpu.`);
  }
  if (!MODES.includes(options.mode)) {
    throw new Error(`--mode "${options.mode}" is not one of ${MODES.join(", ")}.`);
  }
  return options;
}

function randomImages(count: number, imgSize: number): DecodedSample[] {
  const rng = new Rng(SEED);
  const side = Math.round(imgSize / 0.875);
  return Array.from({ length: count }, (_, i) => ({
    sample: { path: `random${i}.png`, label: i % CLASSES, className: `class${i % CLASSES}` },
    image: {
      width: side,
      height: side,
      data: Uint8Array.from({ length: side * side * 3 }, () => rng.int(256)),
    },
  }));
}

function randomBatch(batchSize: number, imgSize: number): Batch {
  const rng = new Rng(SEED);
  return {
    x: Float32Array.from({ length: batchSize * imgSize * imgSize * 3 }, () => rng.uniform(-2, 2)),
    y: Int32Array.from({ length: batchSize }, (_, i) => i % CLASSES),
    size: batchSize,
    imgSize,
  };
}

async function profileStep(step: () => Promise<unknown>): Promise<KernelTime[]> {
  const info = await tf.profile(async () => {
    await step();
  });
  const byKernel = new Map<string, KernelTime>();
  for (const kernel of info.kernels) {
    const entry = byKernel.get(kernel.name) ?? { kernel: kernel.name, milliseconds: 0, calls: 0 };
    entry.milliseconds += Number(kernel.kernelTimeMs);
    entry.calls += 1;
    byKernel.set(kernel.name, entry);
  }
  return [...byKernel.values()].sort((a, b) => b.milliseconds - a.milliseconds);
}

/** Runs one measurement. */
export async function measure(options: MeasureOptions): Promise<Measurement> {
  await useBackend(options.backend, { training: true });
  const { imgSize, batchSize, mode } = options;
  const model = buildResNet({
    depth: 18,
    numClasses: CLASSES,
    imgSize,
    cbam: { kind: "stages", stages: [1, 2, 3, 4] },
    seed: SEED,
  });
  applyFreezePolicy(model, { freezeLayers: mode !== "full" });
  const variables = trainableVariables(model);
  const optimizer = new TorchOptimizer(variables, { name: "sgd", momentum: 0.9 });

  let batch = randomBatch(batchSize, imgSize);
  let trained = model;
  let fillSecondsPerImage: number | undefined;
  if (mode === "cached") {
    const images = randomImages(batchSize, imgSize);
    const preprocess = { imgSize, mean: IMAGENET_MEAN, std: IMAGENET_STD, resizeRatio: 0.875 };
    const started = performance.now();
    const cache = await createFeatureCache(model, {
      augment: false,
      data: images,
      preprocess,
      batchSize,
    });
    if (!cache) throw new Error("The frozen-prefix cache was not created; see the log above.");
    fillSecondsPerImage = (performance.now() - started) / 1000 / batchSize;
    batch = cache.batch(images.map((_, i) => i), batch.y);
    trained = cache.model;
  }

  const step = () => trainStep(trained, { batch, variables, optimizer }, { learningRate: 1e-3 });
  for (let i = 0; i < options.warmup; i++) await step();
  const started = performance.now();
  for (let i = 0; i < options.steps; i++) await step();
  const seconds = (performance.now() - started) / 1000;
  const profile = options.profile ? await profileStep(step) : undefined;
  return {
    backend: options.backend,
    threads: options.backend === "wasm" ? getThreadsCount() : 1,
    imgSize,
    batchSize,
    mode,
    steps: options.steps,
    seconds,
    imagesPerSecond: (batchSize * options.steps) / seconds,
    fillSecondsPerImage,
    profile,
  };
}

if (import.meta.main) {
  const result = await measure(parseOptions(Deno.args));
  console.log(JSON.stringify(result));
}
