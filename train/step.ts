/**
 * One optimization step and one evaluation pass over a batch, written with
 * explicit gradients so that frozen layers, frozen BatchNorm and PyTorch's
 * optimizers behave as in PyTorch.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NamedVariable, TorchOptimizer } from "./optim.ts";

/** A batch of preprocessed images (NHWC float32) and their labels. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  imgSize: number;
  /**
   * Model inputs to use in place of `x`, one per input, each with its shape
   * per sample: the activations that train/feature_cache.ts stores.
   */
  features?: { values: Float32Array; shape: number[] }[];
}

/** Result of a step or an evaluation pass on one batch. */
export interface BatchResult {
  /** Mean loss over the batch (weighted when class weights are given). */
  loss: number;
  /** Predicted class per image. */
  predictions: Int32Array;
}

/**
 * Softmax cross-entropy of `logits` against integer `labels`. With
 * `classWeights` the mean is weighted, sum(w_i * nll_i) / sum(w_i), as
 * PyTorch's `CrossEntropyLoss(weight=...)` computes it.
 */
export function crossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  classWeights?: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const logProbabilities = tf.logSoftmax(logits);
    const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, numClasses), logProbabilities), -1));
    if (!classWeights) return tf.mean(nll) as tf.Scalar;
    const weights = tf.gather(classWeights, labels);
    return tf.div(tf.sum(tf.mul(weights, nll)), tf.sum(weights)) as tf.Scalar;
  });
}

function batchTensors(batch: Batch): { x: tf.Tensor | tf.Tensor[]; y: tf.Tensor1D } {
  const { size, imgSize } = batch;
  const x = batch.features
    ? batch.features.map((input) => tf.tensor(input.values, [size, ...input.shape]))
    : tf.tensor4d(batch.x, [size, imgSize, imgSize, 3]);
  return { x, y: tf.tensor1d(batch.y, "int32") };
}

/** Options for {@linkcode trainStep}. */
export interface TrainStepOptions {
  learningRate: number;
  classWeights?: tf.Tensor1D;
}

/**
 * Runs a forward pass in training mode, backpropagates the loss into
 * `variables`, and applies `optimizer`. Reads results asynchronously, as the
 * WebGPU backend requires.
 */
export async function trainStep(
  model: tf.LayersModel,
  step: { batch: Batch; variables: NamedVariable[]; optimizer: TorchOptimizer },
  options: TrainStepOptions,
): Promise<BatchResult> {
  const { x, y } = batchTensors(step.batch);
  let predictions: tf.Tensor | undefined;
  let result: ReturnType<typeof tf.variableGrads>;
  try {
    result = tf.variableGrads(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor2D;
      predictions = tf.keep(tf.argMax(logits, -1));
      return crossEntropy(logits, y, options.classWeights);
    }, step.variables.map((v) => v.variable));
  } catch (error) {
    throw explainBackendFailure(error, step.batch);
  }
  const { value, grads } = result;
  const byName: Record<string, tf.Tensor> = {};
  for (const { name, variable } of step.variables) {
    const grad = grads[variable.name];
    if (grad) byName[name] = grad;
  }
  step.optimizer.apply(byName, options.learningRate);
  const loss = (await value.data())[0];
  const predicted = new Int32Array(await predictions!.data());
  tf.dispose([x, y, value, predictions!, ...Object.values(grads)]);
  return { loss, predictions: predicted };
}

/**
 * Turns a WebAssembly trap of the wasm backend into an error that names the
 * setting to change. tfjs-backend-wasm's heap is limited (4 GiB at most, and its C++
 * kernels may fail past 2 GiB). Training every layer of MobileNetV2 at 224 px
 * with batch 16, or at 128 px with batch 32, trapped on a 2-core x86-64
 * machine. Frozen layers run outside the tape (`prefix_runner.ts`), so
 * fine-tuning the last blocks at 224 px with batch 32 fits.
 */
function explainBackendFailure(error: unknown, batch: Batch): unknown {
  const isTrap = error instanceof Error &&
    (error.name === "RuntimeError" ||
      /Aborted\(\)|memory access out of bounds/.test(error.message));
  if (!isTrap || tf.getBackend() !== "wasm") return error;
  return new Error(
    `The wasm backend failed during a training step (${
      (error as Error).message
    }), most likely out ` +
      `of WebAssembly memory for a batch of ${batch.size} images at ${batch.imgSize} px. ` +
      "Lower --batch-size or --img-size, or use --backend cpu.",
  );
}

/** Runs the model in inference mode on one batch and returns loss and predictions. */
export async function evalBatch(
  model: tf.LayersModel,
  batch: Batch,
  classWeights?: tf.Tensor1D,
): Promise<BatchResult & { logits: Float32Array }> {
  const { x, y } = batchTensors(batch);
  const [logits, loss, predictions] = tf.tidy(() => {
    const out = model.apply(x, { training: false }) as tf.Tensor2D;
    return [out, crossEntropy(out, y, classWeights), tf.argMax(out, -1)];
  });
  const result = {
    loss: (await loss.data())[0],
    predictions: new Int32Array(await predictions.data()),
    logits: new Float32Array(await logits.data()),
  };
  tf.dispose([x, y, logits, loss, predictions]);
  return result;
}
