/**
 * Loads a PyTorch state_dict from a `torch.save` file (`.pth`, `.pt`) or a
 * `.safetensors` file, and applies it to a TensorFlow.js model.
 *
 * The reader is chosen by content, not by file extension. A torch.save file
 * may hold the state_dict itself, or a dict with it under `state_dict`,
 * `model` or `net`, as training scripts often save it. DataParallel's
 * `module.` prefixes are stripped, float16 tensors become float32, and the
 * int64 `num_batches_tracked` buffers of BatchNorm are dropped.
 *
 * @example
 * ```ts
 * import { applyStateDict, loadStateDictFile } from "./load_state_dict.ts";
 * import { buildResNet } from "../model/resnet.ts";
 * const model = buildResNet({ depth: 18, numClasses: 6, imgSize: 224 });
 * const stateDict = await loadStateDictFile("resnet18.pth");
 * const { skipped } = applyStateDict(model, stateDict, { allowClassifierMismatch: true });
 * ```
 * @module
 */
import { isIgnoredKey } from "./apply_state_dict.ts";
import { TorchCheckpointError } from "./errors.ts";
import { looksLikeSafetensors, readSafetensors } from "./safetensors.ts";
import { type RawTensor, type StateDict, toFloat32 } from "./tensor.ts";
import { PickledTensor, readTorchZip } from "./torch_zip.ts";
import { isZip } from "./zip.ts";

export {
  applyStateDict,
  type ApplyStateDictOptions,
  type ApplyStateDictResult,
} from "./apply_state_dict.ts";

/** Keys under which training scripts commonly nest the state_dict in a checkpoint dict. */
export const NESTED_STATE_DICT_KEYS: readonly string[] = ["state_dict", "model", "net"];

/** Checkpoint formats that {@linkcode parseStateDict} reads. */
export type CheckpointFormat = "torch-zip" | "safetensors";

/**
 * Reads a checkpoint file and returns its state_dict as float32 tensors.
 *
 * @throws {TorchCheckpointError} when the file is missing, in an unsupported or
 * legacy format, corrupt, unsafe, or contains no state_dict.
 */
export async function loadStateDictFile(path: string): Promise<StateDict> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new TorchCheckpointError(`Checkpoint not found: ${path}. Check the path.`, {
        cause: error,
      });
    }
    throw error;
  }
  return parseStateDict(bytes, path);
}

/**
 * Parses checkpoint bytes (torch.save zip or safetensors, detected by
 * content) and returns the state_dict as float32 tensors, without
 * `num_batches_tracked` buffers and `module.` prefixes.
 *
 * @throws {TorchCheckpointError} as {@linkcode loadStateDictFile} does.
 */
export function parseStateDict(bytes: Uint8Array, source = "checkpoint"): StateDict {
  const format = detectFormat(bytes, source);
  const raw = format === "torch-zip"
    ? extractStateDict(readTorchZip(bytes, source), source)
    : readSafetensors(bytes, source).tensors;
  return toStateDict(raw, source);
}

/** Detects the checkpoint format from the first bytes, and rejects the others clearly. */
export function detectFormat(bytes: Uint8Array, source = "checkpoint"): CheckpointFormat {
  if (isZip(bytes)) return "torch-zip";
  if (looksLikeSafetensors(bytes)) return "safetensors";
  // The legacy format is a sequence of raw pickles, the first of which contains a
  // magic number, so it starts with the pickle PROTO opcode 0x80.
  if (bytes[0] === 0x80) {
    throw new TorchCheckpointError(
      `${source} is in PyTorch's legacy serialization format (a raw pickle, written before ` +
        `PyTorch 1.6 or with _use_new_zipfile_serialization=False), which is not supported. ` +
        `Re-save it with PyTorch 1.6 or newer: torch.save(torch.load(path, ` +
        `map_location="cpu"), new_path) writes the default zip format.`,
    );
  }
  const head = [...bytes.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, "0"));
  throw new TorchCheckpointError(
    `${source} is neither a torch.save zip file nor a safetensors file (first bytes: ` +
      `${head.join(" ") || "none, the file is empty"}). Save the weights with ` +
      `torch.save(model.state_dict(), path) in PyTorch 1.6 or newer, or as safetensors.`,
  );
}

/**
 * Finds the state_dict in an unpickled torch.save object: the root dict when
 * its values are tensors, or the dict under one of
 * {@linkcode NESTED_STATE_DICT_KEYS}.
 */
export function extractStateDict(root: unknown, source = "checkpoint"): Map<string, RawTensor> {
  if (isTensorDict(root)) return root;
  if (root instanceof Map) {
    for (const key of NESTED_STATE_DICT_KEYS) {
      const nested = root.get(key);
      if (isTensorDict(nested)) return nested;
    }
  }
  const keys = root instanceof Map
    ? [...root.keys()].slice(0, 20).map((key) => JSON.stringify(key)).join(", ")
    : undefined;
  throw new TorchCheckpointError(
    `${source} contains no state_dict: expected a dict of tensors, or a dict with one under ` +
      `${NESTED_STATE_DICT_KEYS.map((key) => `"${key}"`).join(", ")}` +
      (keys === undefined
        ? ", but the file contains no dict"
        : `; its top-level keys are ${keys}`) +
      `. Save the weights with torch.save(model.state_dict(), path).`,
  );
}

function isTensorDict(value: unknown): value is Map<string, RawTensor> {
  if (!(value instanceof Map) || value.size === 0) return false;
  for (const [key, item] of value) {
    if (typeof key !== "string" || !(item instanceof PickledTensor)) return false;
  }
  return true;
}

function toStateDict(raw: Map<string, RawTensor>, source: string): StateDict {
  const stateDict: StateDict = new Map();
  for (const [rawKey, tensor] of raw) {
    const key = stripModulePrefix(rawKey);
    if (isIgnoredKey(key)) continue;
    if (tensor.dtype === "int64") {
      throw new TorchCheckpointError(
        `${source}: tensor "${rawKey}" is int64, but model weights must be floating point. ` +
          `Remove it from the state_dict before saving.`,
      );
    }
    if (stateDict.has(key)) {
      throw new TorchCheckpointError(
        `${source}: key "${key}" appears twice once "module." prefixes are removed.`,
      );
    }
    stateDict.set(key, {
      shape: tensor.shape,
      dtype: tensor.dtype,
      data: toFloat32(tensor, rawKey),
    });
  }
  if (stateDict.size === 0) {
    throw new TorchCheckpointError(`${source} contains no weight tensors.`);
  }
  return stateDict;
}

/** Removes the `module.` prefixes that `nn.DataParallel` and DDP add to every key. */
export function stripModulePrefix(key: string): string {
  let stripped = key;
  while (stripped.startsWith("module.")) stripped = stripped.slice("module.".length);
  return stripped;
}
