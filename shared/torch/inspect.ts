/**
 * Reads architecture details from state_dict keys and shapes: the class
 * count, the CBAM placement and CBAM sizes, and the ResNet width. The import
 * CLI uses them so that a checkpoint rebuilds without extra flags.
 *
 * @example
 * ```ts
 * import { inferResNetCbam, loadStateDictFile } from "./mod.ts";
 * const stateDict = await loadStateDictFile("resnet18_cbam.pth");
 * console.log(inferResNetCbam(stateDict)); // { kind: "stages", stages: [1, 2, 3, 4] }
 * ```
 * @module
 */
import type { MobileNetV2CbamPlacement } from "../model/mobilenet_v2.ts";
import { MOBILENET_V2_CBAM_FEATURES } from "../model/mobilenet_v2.ts";
import type { CbamPlacement } from "../model/resnet.ts";
import { TorchCheckpointError } from "./errors.ts";
import type { StateDict } from "./tensor.ts";

/** CBAM sizes read from the checkpoint. */
export interface CbamSizes {
  /** Channel reduction ratio r, such that every MLP has max(1, floor(C / r)) hidden units. */
  reduction: number;
  /** Spatial attention kernel size. */
  kernelSize: number;
}

/** Blocks in stage 3 of each torchvision ResNet, by block type; they tell the depths apart. */
const RESNET_BY_STAGE3_BLOCKS: Readonly<Record<string, Record<number, string>>> = {
  basic: { 2: "resnet18", 6: "resnet34" },
  bottleneck: { 6: "resnet50", 23: "resnet101", 36: "resnet152" },
};

/**
 * Names the torchvision network whose keys the checkpoint has: `resnet18`
 * to `resnet152` or `mobilenet_v2`. Returns undefined when the keys fit none.
 */
export function guessModelName(stateDict: StateDict): string | undefined {
  if (stateDict.has("features.0.0.weight")) return "mobilenet_v2";
  const stage3 = new Set<string>();
  for (const key of stateDict.keys()) {
    const match = /^layer3\.(\d+)\./.exec(key);
    if (match) stage3.add(match[1]);
  }
  const blockType = stateDict.has("layer1.0.conv3.weight") ? "bottleneck" : "basic";
  return RESNET_BY_STAGE3_BLOCKS[blockType][stage3.size];
}

/** Returns the output count of the Linear layer `layerName`, or undefined without one. */
export function inferClassCount(stateDict: StateDict, layerName: string): number | undefined {
  return stateDict.get(`${layerName}.weight`)?.shape[0];
}

/** Returns the output channels of a ResNet's stem convolution `conv1`, or undefined. */
export function inferResNetBaseWidth(stateDict: StateDict): number | undefined {
  return stateDict.get("conv1.weight")?.shape[0];
}

/**
 * Reads the ResNet CBAM placement from the keys: `layerN.cbam.*` after
 * stages, `layerN.M.cbam.*` inside blocks.
 *
 * @throws {TorchCheckpointError} when the checkpoint mixes both placements, or
 * has CBAM in only some blocks, which the ResNet builder cannot express.
 */
export function inferResNetCbam(stateDict: StateDict): CbamPlacement {
  const stages = new Set<number>();
  const blocks = new Set<string>();
  const allBlocks = new Set<string>();
  for (const key of stateDict.keys()) {
    const stage = /^layer(\d+)\.cbam\./.exec(key);
    if (stage) stages.add(Number(stage[1]));
    const block = /^(layer\d+\.\d+)\./.exec(key);
    if (block) allBlocks.add(block[1]);
    if (block && key.startsWith(`${block[1]}.cbam.`)) blocks.add(block[1]);
  }
  if (stages.size > 0 && blocks.size > 0) {
    throw new TorchCheckpointError(
      "The checkpoint has CBAM both after stages (layerN.cbam) and inside blocks " +
        "(layerN.M.cbam); the ResNet builder supports one placement at a time.",
    );
  }
  if (blocks.size > 0 && blocks.size !== allBlocks.size) {
    const without = [...allBlocks].filter((name) => !blocks.has(name));
    throw new TorchCheckpointError(
      `The checkpoint has CBAM in some blocks but not in ${without.join(", ")}; the ResNet ` +
        `builder puts CBAM in every block or after whole stages.`,
    );
  }
  if (blocks.size > 0) return { kind: "blocks" };
  if (stages.size > 0) return { kind: "stages", stages: [...stages].sort((a, b) => a - b) };
  return { kind: "none" };
}

/**
 * Reads the MobileNetV2 CBAM placement from `cbam.{feature index}.*` keys,
 * as positions 1 to 5 of {@linkcode MOBILENET_V2_CBAM_FEATURES}.
 *
 * @throws {TorchCheckpointError} for a CBAM module after any other feature block.
 */
export function inferMobileNetV2Cbam(stateDict: StateDict): MobileNetV2CbamPlacement {
  const positions = new Set<number>();
  for (const key of stateDict.keys()) {
    const match = /^cbam\.(\d+)\./.exec(key);
    if (!match) continue;
    const position = MOBILENET_V2_CBAM_FEATURES.indexOf(Number(match[1])) + 1;
    if (position === 0) {
      throw new TorchCheckpointError(
        `The checkpoint has a CBAM module after features.${match[1]} ("${key}"), but MobileNetV2 ` +
          `CBAM goes only after features ${MOBILENET_V2_CBAM_FEATURES.join(", ")}.`,
      );
    }
    positions.add(position);
  }
  if (positions.size === 0) return { kind: "none" };
  return { kind: "stages", stages: [...positions].sort((a, b) => a - b) };
}

/**
 * Reads the CBAM reduction ratio and spatial kernel size from the shapes of
 * `*.ca.fc1.weight` ([hidden, C, 1, 1]) and `*.sa.conv1.weight`
 * ([1, 2, k, k]). Returns undefined when the checkpoint has no CBAM.
 *
 * @throws {TorchCheckpointError} when the CBAM modules use different sizes.
 */
export function inferCbamSizes(stateDict: StateDict): CbamSizes | undefined {
  const mlps = [...stateDict.entries()]
    .filter(([key]) => key.endsWith(".ca.fc1.weight"))
    .map(([key, tensor]) => ({ key, hidden: tensor.shape[0], channels: tensor.shape[1] }));
  const kernels = [...stateDict.entries()]
    .filter(([key]) => key.endsWith(".sa.conv1.weight"))
    .map(([key, tensor]) => ({ key, size: tensor.shape[2] }));
  if (mlps.length === 0 || kernels.length === 0) return undefined;

  // The widest MLP pins the ratio down most tightly.
  const widest = mlps.reduce((a, b) => (b.channels > a.channels ? b : a));
  const reduction = Math.floor(widest.channels / widest.hidden);
  const inconsistent = mlps.filter((mlp) =>
    Math.max(1, Math.floor(mlp.channels / reduction)) !== mlp.hidden
  );
  if (inconsistent.length > 0) {
    throw new TorchCheckpointError(
      `CBAM modules use different reduction ratios: ${widest.key} implies ${reduction}, but ` +
        `${inconsistent.map((mlp) => `${mlp.key} [${mlp.hidden}, ${mlp.channels}]`).join(", ")} ` +
        `do not fit it.`,
    );
  }
  const kernelSize = kernels[0].size;
  const otherKernels = kernels.filter((kernel) => kernel.size !== kernelSize);
  if (otherKernels.length > 0) {
    throw new TorchCheckpointError(
      `CBAM modules use different spatial kernel sizes: ${kernels[0].key} has ${kernelSize}, ` +
        `${otherKernels.map((kernel) => `${kernel.key} has ${kernel.size}`).join(", ")}.`,
    );
  }
  return { reduction, kernelSize };
}
