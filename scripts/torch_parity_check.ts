/**
 * Compares the logits of imported PyTorch checkpoints with the logits that
 * PyTorch computed, for the cases that `scripts/torch_parity.py` wrote.
 *
 * Each case is rebuilt in TensorFlow.js, its checkpoint applied with
 * {@linkcode applyStateDict} (no mismatch allowed), and the stored input run
 * through it in inference mode. A case passes when
 * max |difference| <= 1e-4 x max |PyTorch logit|.
 *
 * @example
 * ```sh
 * /usr/bin/python3 scripts/torch_parity.py --set full --out /tmp/parity
 * deno run --allow-read --allow-env --allow-sys scripts/torch_parity_check.ts /tmp/parity --backends cpu,wasm
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendName, useBackend } from "../shared/backend.ts";
import { buildMobileNetV2, type MobileNetV2CbamPlacement } from "../shared/model/mobilenet_v2.ts";
import { buildResNet, type CbamPlacement, type ResNetDepth } from "../shared/model/resnet.ts";
import { applyStateDict, loadStateDictFile } from "../shared/torch/mod.ts";

/** Maximum allowed max |difference| relative to max |PyTorch logit|. */
export const RELATIVE_TOLERANCE = 1e-4;

/** One entry of `cases.json`. */
export interface ParityCase {
  /** Case name, for example `resnet18_w4_stages`. */
  name: string;
  /** `resnet18`, `resnet50` or `mobilenet_v2`. */
  model: string;
  /** ResNet stem and stage-1 width. */
  baseWidth?: number;
  /** MobileNetV2 width multiplier. */
  widthMultiplier?: number;
  cbam: CbamPlacement;
  numClasses: number;
  imgSize: number;
  /** Checkpoint file name, `.pth` or `.safetensors`. */
  checkpoint: string;
  /** File name of the safetensors file with `input` (NHWC) and `logits`. */
  expected: string;
  /** Largest |logit| that PyTorch computed. */
  maxAbsLogit: number;
}

/** Outcome of one case on one backend. */
export interface ParityResult {
  name: string;
  backend: string;
  /** Largest |TensorFlow.js logit - PyTorch logit|. */
  maxAbsDiff: number;
  /** Largest |PyTorch logit|. */
  maxAbsLogit: number;
  /** `maxAbsDiff / maxAbsLogit`. */
  relativeDiff: number;
}

/** Reads the `cases.json` that `scripts/torch_parity.py` writes into `dir`. */
export async function readParityCases(dir: string): Promise<ParityCase[]> {
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/cases.json`));
  return manifest.cases as ParityCase[];
}

/** Builds the TensorFlow.js model of a case, with fresh weights. */
export function buildCaseModel(parityCase: ParityCase): tf.LayersModel {
  const { model, numClasses, imgSize, cbam } = parityCase;
  if (model === "mobilenet_v2") {
    return buildMobileNetV2({
      numClasses,
      imgSize,
      cbam: cbam as MobileNetV2CbamPlacement,
      widthMultiplier: parityCase.widthMultiplier,
    });
  }
  const depth = Number(model.replace(/^resnet/, "")) as ResNetDepth;
  return buildResNet({ depth, numClasses, imgSize, cbam, baseWidth: parityCase.baseWidth });
}

/**
 * Runs one case on the current backend and returns the differences. The
 * caller selects the backend beforehand.
 */
export async function runParityCase(dir: string, parityCase: ParityCase): Promise<ParityResult> {
  const expected = await loadStateDictFile(`${dir}/${parityCase.expected}`);
  const input = expected.get("input")!;
  const logits = expected.get("logits")!;
  const model = buildCaseModel(parityCase);
  try {
    applyStateDict(model, await loadStateDictFile(`${dir}/${parityCase.checkpoint}`));
    const actual = tf.tidy(() => {
      const x = tf.tensor(input.data, input.shape, "float32");
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    });
    let maxAbsDiff = 0;
    let maxAbsLogit = 0;
    for (let i = 0; i < logits.data.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - logits.data[i]));
      maxAbsLogit = Math.max(maxAbsLogit, Math.abs(logits.data[i]));
    }
    return {
      name: parityCase.name,
      backend: tf.getBackend(),
      maxAbsDiff,
      maxAbsLogit,
      relativeDiff: maxAbsDiff / maxAbsLogit,
    };
  } finally {
    model.dispose();
  }
}

function parseArgs(args: string[]): { dir: string; backends: BackendName[]; only?: string[] } {
  let dir: string | undefined;
  let backends: BackendName[] = ["cpu", "wasm"];
  let only: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--backends") backends = args[++i].split(",") as BackendName[];
    else if (args[i] === "--only") only = args[++i].split(",");
    else dir = args[i];
  }
  if (dir === undefined) {
    throw new Error(
      "Missing the folder that scripts/torch_parity.py wrote. Usage: torch_parity_check.ts " +
        "DIR [--backends cpu,wasm] [--only CASE,...]",
    );
  }
  return { dir, backends, only };
}

async function main(): Promise<void> {
  const { dir, backends, only } = parseArgs(Deno.args);
  const cases = (await readParityCases(dir)).filter((c) => !only || only.includes(c.name));
  let failures = 0;
  for (const backend of backends) {
    await useBackend(backend);
    for (const parityCase of cases) {
      const result = await runParityCase(dir, parityCase);
      const ok = result.relativeDiff <= RELATIVE_TOLERANCE;
      if (!ok) failures++;
      console.log(
        `${ok ? "ok  " : "FAIL"} ${backend.padEnd(5)} ${result.name.padEnd(32)} ` +
          `max |diff| ${result.maxAbsDiff.toExponential(2)}  max |logit| ` +
          `${result.maxAbsLogit.toFixed(4)}  relative ${result.relativeDiff.toExponential(2)}`,
      );
    }
  }
  if (failures > 0) {
    console.error(`${failures} case(s) exceed the tolerance ${RELATIVE_TOLERANCE} x max |logit|.`);
    Deno.exit(1);
  }
}

if (import.meta.main) await main();
