/**
 * The classifier the edge serves: a model folder loaded once, compiled into
 * the inference graph of `shared/model/inference.ts` (BatchNorm folded,
 * fused convolution ops), warmed with one inference, and applied to
 * preprocessed images.
 *
 * Every call runs inside `tf.tidy`, so `tf.memory().numTensors` is back to
 * its value from before the call once it returns or throws.
 *
 * Inference runs on one wasm thread. The threaded tfjs-backend-wasm build
 * was slower with 2 threads than with 1 on the shared 2-core benchmark
 * machine (docs/BENCHMARKS.md), and concurrent requests already use both
 * cores (decoding runs in workers).
 *
 * @example
 * ```ts
 * import { Classifier } from "./classifier.ts";
 * const classifier = await Classifier.load("weights/default", { backend: "wasm" });
 * const size = classifier.metadata.input.imgSize;
 * const scores = classifier.predict(new Float32Array(size * size * 3));
 * console.log(classifier.rank(scores, 3));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getLogger } from "@logtape/logtape";
import { useBackend } from "../../shared/backend.ts";
import type { InferenceModel } from "../../shared/model/inference.ts";
import { loadInferenceModelDir } from "../../shared/model/io.ts";
import type { ModelMetadata } from "../../shared/model/metadata.ts";
import { topK as rankScores } from "../../shared/model/classify.ts";
import type { InferenceBackend } from "../config.ts";

const logger = getLogger(["waste-vision", "edge", "model"]);

/** One class and its probability. */
export interface Prediction {
  label: string;
  score: number;
}

/** Options for {@linkcode Classifier.load}. */
export interface ClassifierLoadOptions {
  /** Backend tried first. `wasm` falls back to `cpu` when it cannot start. Default: `wasm`. */
  backend?: InferenceBackend;
}

/**
 * Starts `preferred`, falling back to `cpu` when `wasm` fails. Returns the
 * backend in use.
 */
export async function startInferenceBackend(preferred: InferenceBackend): Promise<string> {
  if (tf.getBackend() === preferred) return preferred;
  try {
    await useBackend(preferred);
  } catch (error) {
    if (preferred === "cpu") throw error;
    logger.warn("The {preferred} backend failed to start, so inference runs on cpu: {error}", {
      preferred,
      error,
    });
    await useBackend("cpu");
  }
  return tf.getBackend();
}

/** A loaded, warmed model with its metadata. */
export class Classifier {
  readonly model: InferenceModel;
  readonly metadata: ModelMetadata;
  /** The TensorFlow.js backend in use when the model was loaded. */
  readonly backend: string;

  constructor(model: InferenceModel, metadata: ModelMetadata, backend: string) {
    this.model = model;
    this.metadata = metadata;
    this.backend = backend;
  }

  /**
   * Starts the backend, loads the model folder `dir`, compiles it for
   * inference and warms it. Throws the `ModelFormatError` of `loadModelDir`
   * for a missing or invalid folder.
   */
  static async load(dir: string, options: ClassifierLoadOptions = {}): Promise<Classifier> {
    const backend = await startInferenceBackend(options.backend ?? "wasm");
    const { model, metadata } = await loadInferenceModelDir(dir);
    const classifier = new Classifier(model, metadata, backend);
    classifier.warm();
    return classifier;
  }

  /** Number of values {@linkcode predict} expects: imgSize x imgSize x 3. */
  get inputLength(): number {
    const size = this.metadata.input.imgSize;
    return size * size * 3;
  }

  /**
   * Runs one inference on zeros, so that the first request does not pay for
   * kernel setup and weight upload.
   */
  warm(): void {
    this.predict(new Float32Array(this.inputLength));
  }

  /**
   * Temperature that divides the logits before the softmax: the one fitted
   * on val at export (metadata.json `calibration`), or 1 for a model
   * without calibration.
   */
  get temperature(): number {
    return this.metadata.calibration?.temperature ?? 1;
  }

  /**
   * Returns whether a calibrated top score is under the model's uncertainty
   * threshold. Always false for a model without calibration.
   */
  isUncertain(topScore: number): boolean {
    const threshold = this.metadata.calibration?.uncertainThreshold;
    return threshold !== undefined && topScore < threshold;
  }

  /**
   * Returns the calibrated class probabilities (softmax of logits / T, in
   * class order) for one preprocessed image in NHWC order. Throws a
   * `RangeError` when `input` has the wrong length.
   */
  predict(input: Float32Array): Float32Array {
    if (input.length !== this.inputLength) {
      throw new RangeError(
        `Classifier.predict: expected ${this.inputLength} values ` +
          `(${this.metadata.input.imgSize}x${this.metadata.input.imgSize}x3), got ${input.length}.`,
      );
    }
    const size = this.metadata.input.imgSize;
    return tf.tidy(() => {
      const batch = tf.tensor4d(input, [1, size, size, 3]);
      const logits = this.model.predict(batch);
      return tf.softmax(tf.div(logits, this.temperature)).dataSync() as Float32Array;
    });
  }

  /** Returns the `topK` most probable classes, highest first. */
  rank(scores: Float32Array, topK: number): Prediction[] {
    return rankScores(scores, this.metadata.classNames, topK);
  }

  /** Frees the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}
