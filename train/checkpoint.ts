/**
 * Training checkpoints: the model folder plus the optimizer's state and the
 * trainer's position, written atomically (see `saveModelDir`), so a run that
 * is killed at any moment resumes from its last complete checkpoint.
 *
 * Every random stream of a run (shuffling, balanced sampling, augmentation)
 * is derived from the seed, the epoch and the position in the epoch. So the
 * position is the random-generator state, and resuming at step k of epoch e
 * draws exactly what an uninterrupted run draws there.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadModelDir, saveModelDir } from "../shared/model/io.ts";
import type { ModelMetadata } from "../shared/model/metadata.ts";
import type { OptimizerState } from "./optim.ts";

/** Position of the trainer, saved beside the weights. */
export interface TrainerPosition {
  /** Epoch in progress, starting at 0. */
  epoch: number;
  /** Batches of that epoch already trained. */
  stepInEpoch: number;
  /** Running training figures of the unfinished epoch. */
  partial: { lossSum: number; seen: number; confusion: number[][] };
  /** Per-epoch log entries of the finished epochs. */
  history: unknown[];
  /** Best finished epoch so far (1-based), with its val accuracy and macro F1. */
  best: { epoch: number; valAccuracy: number; valMacroF1: number } | null;
  /** Seconds of training so far, across resumes. */
  elapsedSeconds: number;
}

interface SlotManifest {
  key: string;
  shape: number[];
  offset: number;
}

/** A checkpoint as read back from disk. */
export interface Checkpoint {
  weights: Map<string, tf.Tensor[]>;
  optimizer: OptimizerState;
  position: TrainerPosition;
}

async function packOptimizer(state: OptimizerState) {
  const manifest: SlotManifest[] = [];
  const arrays: Float32Array[] = [];
  let offset = 0;
  for (const [key, tensor] of Object.entries(state.slots)) {
    const data = await tensor.data() as Float32Array;
    manifest.push({ key, shape: tensor.shape, offset });
    arrays.push(data);
    offset += data.length;
  }
  const packed = new Float32Array(offset);
  let at = 0;
  for (const data of arrays) {
    packed.set(data, at);
    at += data.length;
  }
  return { manifest, bytes: new Uint8Array(packed.buffer) };
}

/** Writes a checkpoint folder atomically, replacing any previous one. */
export async function saveCheckpoint(
  dir: string,
  state: {
    model: tf.LayersModel;
    metadata: ModelMetadata;
    optimizer: OptimizerState;
    position: TrainerPosition;
  },
): Promise<void> {
  const { manifest, bytes } = await packOptimizer(state.optimizer);
  await saveModelDir(dir, state.model, state.metadata, {
    extraFiles: {
      "trainer_state.json": {
        position: state.position,
        optimizer: { step: state.optimizer.step, slots: manifest },
      },
    },
    extraBinaryFiles: { "optimizer.bin": bytes },
  });
}

/**
 * Returns the folder of a complete checkpoint at `dir`. A save that was
 * killed between its two renames leaves the previous checkpoint at
 * `<dir>.old` and none at `dir`; that one is used then.
 */
export async function findCheckpoint(dir: string): Promise<string> {
  for (const candidate of [dir, `${dir}.old`]) {
    try {
      await Deno.stat(`${candidate}/trainer_state.json`);
      return candidate;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(
    `No checkpoint in ${dir} (trainer_state.json not found). Start the run without --resume.`,
  );
}

/** Reads weights by layer name from a model folder, for copying into a fresh model. */
export async function loadCheckpointWeights(dir: string): Promise<Map<string, tf.Tensor[]>> {
  const { model } = await loadModelDir(dir);
  const weights = new Map<string, tf.Tensor[]>();
  for (const layer of model.layers) {
    if (layer.weights.length > 0) weights.set(layer.name, layer.getWeights().map((w) => w.clone()));
  }
  model.dispose();
  return weights;
}

function corrupt(path: string, detail: string): Error {
  return new Error(
    `Checkpoint file ${path} is corrupt (${detail}). Delete the folder ${
      path.replace(/\/[^/]+$/, "")
    } ` +
      "to resume from the previous checkpoint if a .old folder exists beside it, or start the run again.",
  );
}

async function readTrainerState(dir: string) {
  const path = `${dir}/trainer_state.json`;
  let saved;
  try {
    saved = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw corrupt(path, (error as Error).message);
  }
  if (!saved?.position || !Array.isArray(saved?.optimizer?.slots)) {
    throw corrupt(path, "fields missing");
  }
  return saved as { position: TrainerPosition; optimizer: { step: number; slots: SlotManifest[] } };
}

async function readOptimizerSlots(
  dir: string,
  manifest: SlotManifest[],
): Promise<Record<string, tf.Tensor>> {
  const path = `${dir}/optimizer.bin`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw corrupt(path, (error as Error).message);
  }
  const expected = manifest.reduce((sum, slot) => sum + slot.shape.reduce((a, b) => a * b, 1), 0) *
    4;
  if (bytes.byteLength !== expected) {
    throw corrupt(path, `${bytes.byteLength} bytes where trainer_state.json describes ${expected}`);
  }
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const slots: Record<string, tf.Tensor> = {};
  for (const slot of manifest) {
    const size = slot.shape.reduce((a, b) => a * b, 1);
    slots[slot.key] = tf.tensor(all.slice(slot.offset, slot.offset + size), slot.shape);
  }
  return slots;
}

/**
 * Reads a checkpoint folder (or its `.old` copy, see
 * {@linkcode findCheckpoint}). The weights come back by layer name, so they
 * can be copied into a freshly built model with the run's freezing applied.
 * Throws an error naming the file for a damaged checkpoint.
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const found = await findCheckpoint(dir);
  const saved = await readTrainerState(found);
  const slots = await readOptimizerSlots(found, saved.optimizer.slots);
  const weights = await loadCheckpointWeights(found);
  return { weights, optimizer: { step: saved.optimizer.step, slots }, position: saved.position };
}

/**
 * Copies checkpoint weights into `model` by layer name. Throws when a layer
 * is missing or a shape differs, which means the run's configuration changed.
 */
export function restoreWeights(model: tf.LayersModel, weights: Map<string, tf.Tensor[]>): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const saved = weights.get(layer.name);
    if (!saved) throw new Error(`The checkpoint has no weights for layer "${layer.name}".`);
    layer.setWeights(saved);
  }
}
