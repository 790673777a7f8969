/**
 * Saving and loading model folders on disk: `model.json` and weight shards in
 * the TF.js layers format, plus `labels.json` and `metadata.json`.
 *
 * A folder is written into a temporary sibling and renamed into place, so an
 * interrupted save never leaves a folder that looks complete. The TF.js files
 * are standard: a browser loads them with `tf.loadLayersModel(url)` after
 * importing `./cbam.ts` (which registers the CBAM layers).
 *
 * @example
 * ```ts
 * import { loadModelDir } from "./io.ts";
 * const { model, metadata } = await loadModelDir("weights/default");
 * console.log(metadata.classNames);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "./cbam.ts";
import { enforceFrozenBatchNormInModel } from "./batch_norm.ts";
import { compileInferenceModel, type InferenceModel } from "./inference.ts";
import {
  formatVersionFor,
  labelsJson,
  ModelFormatError,
  type ModelMetadata,
  validateMetadata,
  type WeightQuantization,
} from "./metadata.ts";
import { quantizeWeights, storedByteLength } from "./quantize.ts";

const SHARD_BYTES = 4 * 1024 * 1024;

/** A loaded model with its metadata. */
export interface LoadedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
  dir: string;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function captureArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    captured = artifacts;
    return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
  }));
  return captured!;
}

async function writeModelFiles(
  dir: string,
  artifacts: tf.io.ModelArtifacts,
  quantization: WeightQuantization,
): Promise<void> {
  const joined = tf.io.CompositeArrayBuffer.join(artifacts.weightData!);
  const quantized = quantizeWeights(artifacts.weightSpecs!, joined, quantization);
  const weights = new Uint8Array(quantized.data);
  const shardCount = Math.max(1, Math.ceil(weights.byteLength / SHARD_BYTES));
  const paths: string[] = [];
  for (let i = 0; i < shardCount; i++) {
    const name = `group1-shard${i + 1}of${shardCount}.bin`;
    paths.push(name);
    await Deno.writeFile(join(dir, name), weights.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
  }
  const modelJson = {
    format: "layers-model",
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: quantized.specs }],
  };
  await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(modelJson));
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Options for {@linkcode saveModelDir}. */
export interface SaveModelOptions {
  /** Extra JSON files written into the folder, by file name. */
  extraFiles?: Record<string, unknown>;
  /** Extra binary files written into the folder, by file name. */
  extraBinaryFiles?: Record<string, Uint8Array>;
}

/**
 * Writes `model` with its metadata to `dir`, replacing any folder there.
 * The files go to `dir.tmp` first, and the folder is renamed into place only
 * when every file is written. Kernels are stored in the format that
 * `metadata.inference.weightQuantization` names (float32 when absent), and
 * metadata.json gets the format version that describes the folder
 * (`formatVersionFor`), whatever the value of `metadata.formatVersion`.
 */
export async function saveModelDir(
  dir: string,
  model: tf.LayersModel,
  metadata: ModelMetadata,
  options: SaveModelOptions = {},
): Promise<void> {
  const staging = `${dir}.tmp`;
  const previous = `${dir}.old`;
  await removeIfPresent(staging);
  await Deno.mkdir(staging, { recursive: true });
  const quantization = metadata.inference?.weightQuantization ?? "float32";
  await writeModelFiles(staging, await captureArtifacts(model), quantization);
  const written = { ...metadata, formatVersion: formatVersionFor(metadata) };
  await Deno.writeTextFile(join(staging, "metadata.json"), JSON.stringify(written, null, 2));
  await Deno.writeTextFile(
    join(staging, "labels.json"),
    JSON.stringify(labelsJson(metadata.classNames), null, 2),
  );
  for (const [name, value] of Object.entries(options.extraFiles ?? {})) {
    await Deno.writeTextFile(join(staging, name), JSON.stringify(value, null, 2));
  }
  for (const [name, bytes] of Object.entries(options.extraBinaryFiles ?? {})) {
    await Deno.writeFile(join(staging, name), bytes);
  }
  await removeIfPresent(previous);
  try {
    await Deno.rename(dir, previous);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(staging, dir);
  await removeIfPresent(previous);
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(
        `${what} not found: ${path}. Is this a model folder written by "deno task train"?`,
      );
    }
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads and checks `metadata.json` of a model folder. */
export async function readMetadata(dir: string): Promise<ModelMetadata> {
  const path = join(dir, "metadata.json");
  return validateMetadata(await readJson(path, "metadata.json"), path);
}

async function readArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const modelPath = join(dir, "model.json");
  const modelJson = await readJson(modelPath, "model.json") as tf.io.ModelJSON;
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new ModelFormatError(`${modelPath} has no modelTopology or weightsManifest.`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJson.weightsManifest) {
    specs.push(...group.weights);
    for (const name of group.paths) {
      try {
        const bytes = await Deno.readFile(join(dir, name));
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw new ModelFormatError(
            `Weight file ${join(dir, name)} named in model.json is missing.`,
          );
        }
        throw error;
      }
    }
  }
  const weightData = tf.io.CompositeArrayBuffer.join(buffers);
  // float16 and uint8 weights take 2 and 1 bytes per value; tfjs
  // dequantizes them to float32 while building the model.
  const expected = storedByteLength(specs);
  if (weightData.byteLength !== expected) {
    throw new ModelFormatError(
      `Weights in ${dir} have ${weightData.byteLength} bytes but model.json describes ${expected}. ` +
        "The folder is corrupt or incomplete; export the model again.",
    );
  }
  return { modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData };
}

/**
 * Loads a model folder written by {@linkcode saveModelDir}. Throws
 * {@linkcode ModelFormatError} for a missing metadata.json or model.json, a
 * newer format version, or weight files that do not match model.json.
 */
export async function loadModelDir(dir: string): Promise<LoadedModel> {
  try {
    const stat = await Deno.stat(dir);
    if (!stat.isDirectory) throw new ModelFormatError(`Model path ${dir} is not a folder.`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(`Model folder not found: ${dir}.`);
    }
    throw error;
  }
  const metadata = await readMetadata(dir);
  const artifacts = await readArtifacts(dir);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new ModelFormatError(`Cannot build the model in ${dir}: ${(error as Error).message}`);
  }
  const outputs = model.outputs[0].shape[1];
  if (outputs !== metadata.classNames.length) {
    model.dispose();
    throw new ModelFormatError(
      `${dir}: the model has ${outputs} outputs but metadata.json lists ${metadata.classNames.length} classes.`,
    );
  }
  enforceFrozenBatchNormInModel(model);
  return { model, metadata, dir };
}

/** A model folder compiled for prediction, with its metadata. */
export interface LoadedInferenceModel {
  model: InferenceModel;
  metadata: ModelMetadata;
  dir: string;
}

/**
 * Loads a model folder as {@linkcode loadModelDir} does and compiles it with
 * `compileInferenceModel` (BatchNorm folded, fused ops). The layers model is
 * freed afterwards; the returned model owns its weights. Throws the same
 * {@linkcode ModelFormatError}s as {@linkcode loadModelDir}.
 */
export async function loadInferenceModelDir(dir: string): Promise<LoadedInferenceModel> {
  const { model, metadata } = await loadModelDir(dir);
  try {
    return { model: compileInferenceModel(model), metadata, dir };
  } finally {
    model.dispose();
  }
}
