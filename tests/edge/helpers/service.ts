/**
 * The edge app as the tests use it: the tiny model (written once per process
 * into a temporary folder and loaded once), the real image intake and the
 * real middleware, with settings that a test can override.
 * @module
 */
import type { Hono } from "hono";
import * as tf from "@tensorflow/tfjs";
import { createApp } from "../../../edge/app.ts";
import type { EdgeConfig } from "../../../edge/config.ts";
import { createImageIntake, type ImageIntake } from "../../../edge/image/intake.ts";
import { Classifier, type Prediction } from "../../../edge/model/classifier.ts";
import { ModelSlot } from "../../../edge/model/model_slot.ts";
import type { EdgeEnv } from "../../../edge/types.ts";
import { decodeImage } from "../../../shared/image/mod.ts";
import { evalResizeSize, preprocessForEval } from "../../../shared/preprocess.ts";
import { startInferenceBackend } from "../../../edge/model/classifier.ts";
import { writeTinyModel } from "./tiny_model.ts";

let modelDir: Promise<string> | undefined;
let classifier: Promise<Classifier> | undefined;

/** Writes the tiny model once per process and returns its folder. */
export function tinyModelDir(): Promise<string> {
  modelDir ??= (async () => {
    await startInferenceBackend("wasm");
    const dir = await Deno.makeTempDir({ prefix: "edge-test-model-" });
    await writeTinyModel(`${dir}/model`);
    return `${dir}/model`;
  })();
  return modelDir;
}

/** Loads the tiny model once per process on the wasm backend. */
export function tinyClassifier(): Promise<Classifier> {
  classifier ??= (async () => Classifier.load(await tinyModelDir(), { backend: "wasm" }))();
  return classifier;
}

/** An app with its parts, for tests. */
export interface TestService {
  app: Hono<EdgeEnv>;
  classifier: Classifier;
  models: ModelSlot;
  intake: ImageIntake;
  close(): void;
}

/**
 * Creates an app around the tiny model. `workers` defaults to 0 (decode on
 * the main thread), which keeps `app.request()` tests free of worker start-up.
 */
export async function createTestService(
  config: Partial<EdgeConfig> = {},
): Promise<TestService> {
  const loaded = await tinyClassifier();
  const models = new ModelSlot(loaded);
  const intake = createImageIntake({
    maxPixels: config.maxPixels ?? 50_000_000,
    workers: config.decodeWorkers ?? 0,
  });
  const app = createApp({ models, intake, config });
  return { app, classifier: loaded, models, intake, close: () => intake.close() };
}

/**
 * Classifies `bytes` without HTTP, through the shared decoder and
 * preprocessing, as the reference that HTTP responses must match.
 */
export async function referencePredictions(
  bytes: Uint8Array,
  topK: number,
): Promise<Prediction[]> {
  const loaded = await tinyClassifier();
  const minSide = evalResizeSize(loaded.metadata.input);
  const image = await decodeImage(bytes, { minSide });
  const input = preprocessForEval(image, loaded.metadata.input);
  return loaded.rank(loaded.predict(input), topK);
}

/** Returns the number of tensors that tfjs has allocated now. */
export function tensorCount(): number {
  return tf.memory().numTensors;
}

/** Builds a multipart body with `bytes` in the file field `field`. */
export function multipartBody(
  bytes: Uint8Array,
  field = "image",
  filename = "photo.jpg",
): FormData {
  const form = new FormData();
  form.append(field, new Blob([bytes as Uint8Array<ArrayBuffer>]), filename);
  return form;
}
