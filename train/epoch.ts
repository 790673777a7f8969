/**
 * One training epoch and one evaluation pass over decoded data, with batch
 * preparation one batch ahead, mid-epoch checkpoints and a clean stop on
 * request (Ctrl-C).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { deriveSeed, Rng } from "../shared/random.ts";
import {
  augmentForTrain,
  type AugmentOptions,
  type PreprocessConfig,
  preprocessForEval,
} from "../shared/preprocess.ts";
import { BatchPrefetcher, type DecodedSample } from "./data/loader.ts";
import type { NamedVariable, TorchOptimizer } from "./optim.ts";
import { type Batch, evalBatch, trainStep } from "./step.ts";
import type { Progress } from "./progress.ts";
import type { FeatureCache } from "./feature_cache.ts";
import type { PrefixRunner } from "./prefix_runner.ts";

/** Running figures of a training epoch, also saved in mid-epoch checkpoints. */
export interface EpochTally {
  lossSum: number;
  seen: number;
  confusion: number[][];
}

/** Returns an empty tally for `numClasses` classes. */
export function emptyTally(numClasses: number): EpochTally {
  return {
    lossSum: 0,
    seen: 0,
    confusion: Array.from({ length: numClasses }, () => new Array(numClasses).fill(0)),
  };
}

function addToTally(tally: EpochTally, labels: Int32Array, predictions: Int32Array, loss: number) {
  tally.lossSum += loss * labels.length;
  tally.seen += labels.length;
  labels.forEach((label, i) => tally.confusion[label][predictions[i]] += 1);
}

const SHUFFLE_STREAM = 1;
const AUGMENT_STREAM = 2;

/**
 * Returns the order of training samples for `epoch`: a seeded shuffle, or
 * with `balanced` a draw with replacement where each class is equally
 * likely (a balanced sampler), of the same length.
 */
export function epochOrder(
  labels: number[],
  options: { seed: number; epoch: number; balanced: boolean },
): number[] {
  const rng = new Rng(deriveSeed(options.seed, options.epoch, SHUFFLE_STREAM));
  if (!options.balanced) return rng.shuffle(labels.map((_, i) => i));
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => byClass.set(label, [...(byClass.get(label) ?? []), i]));
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  return labels.map(() => {
    const members = byClass.get(classes[rng.int(classes.length)])!;
    return members[rng.int(members.length)];
  });
}

/** Settings shared by {@linkcode runTrainEpoch} and {@linkcode runEval}. */
export interface PassSettings {
  batchSize: number;
  preprocess: PreprocessConfig;
}

function emptyBatch(size: number, imgSize: number): Batch {
  return {
    x: new Float32Array(size * imgSize * imgSize * 3),
    y: new Int32Array(size),
    size,
    imgSize,
  };
}

/** Everything one training epoch needs. */
export interface TrainEpochArgs extends PassSettings {
  model: tf.LayersModel;
  variables: NamedVariable[];
  optimizer: TorchOptimizer;
  data: DecodedSample[];
  epoch: number;
  seed: number;
  augment: boolean;
  /** Extra augmentation (color jitter, blur) when `augment` is on. */
  augmentOptions?: AugmentOptions;
  balanced: boolean;
  learningRate: number;
  classWeights?: tf.Tensor1D;
  /** Batches already trained in this epoch (when resuming). */
  startStep: number;
  tally: EpochTally;
  progress?: Progress;
  checkpointEvery: number;
  onCheckpoint: (stepInEpoch: number, tally: EpochTally) => Promise<void>;
  shouldStop: () => boolean;
  /** Called after every step with the epoch (from 0) and the steps done in it. */
  onStep?: (epoch: number, stepInEpoch: number) => void;
  /** Cached frozen-prefix activations of `data`; when given, its suffix model trains on them. */
  featureCache?: FeatureCache;
  /**
   * Runs the frozen prefix outside the gradient tape for each batch when
   * there is no `featureCache`; its suffix model trains on the result.
   */
  prefixRunner?: PrefixRunner;
}

/**
 * Trains one epoch from `startStep`. Returns the step reached and whether it
 * stopped early because `shouldStop` became true (the caller checkpoints).
 */
export async function runTrainEpoch(
  args: TrainEpochArgs,
): Promise<{ step: number; stopped: boolean }> {
  const { batchSize, preprocess, data, tally } = args;
  const order = epochOrder(data.map((d) => d.sample.label), args);
  const size = preprocess.imgSize * preprocess.imgSize * 3;
  const positions = order.map((_, i) => i).slice(args.startStep * batchSize);
  const makeBatch = (slice: number[]): Batch => {
    if (args.featureCache) {
      const indices = slice.map((position) => order[position]);
      const labels = Int32Array.from(indices, (index) => data[index].sample.label);
      return args.featureCache.batch(indices, labels);
    }
    const batch = emptyBatch(slice.length, preprocess.imgSize);
    slice.forEach((position, i) => {
      const item = data[order[position]];
      const rng = new Rng(deriveSeed(args.seed, args.epoch, AUGMENT_STREAM, position));
      const pixels = args.augment
        ? augmentForTrain(item.image, rng, preprocess, args.augmentOptions)
        : preprocessForEval(item.image, preprocess);
      batch.x.set(pixels, i * size);
      batch.y[i] = item.sample.label;
    });
    return batch;
  };
  const batches = new BatchPrefetcher<Batch>(positions, { batchSize, makeBatch });
  let step = args.startStep;
  for await (const batch of batches) {
    const input = args.prefixRunner && !args.featureCache
      ? await args.prefixRunner.run(batch)
      : batch;
    const trained = args.featureCache?.model ?? args.prefixRunner?.model ?? args.model;
    const result = await trainStep(trained, {
      batch: input,
      variables: args.variables,
      optimizer: args.optimizer,
    }, {
      learningRate: args.learningRate,
      classWeights: args.classWeights,
    });
    if (!Number.isFinite(result.loss)) {
      batches.close();
      throw new Error(
        `The training loss became ${result.loss} at epoch ${args.epoch + 1}, step ${step + 1}. ` +
          "Lower --lr or check the data.",
      );
    }
    addToTally(tally, batch.y, result.predictions, result.loss);
    step += 1;
    args.progress?.update(tally.seen, {
      loss: tally.lossSum / tally.seen,
      accuracy: accuracyOf(tally),
    });
    args.onStep?.(args.epoch, step);
    if (args.shouldStop()) {
      batches.close();
      return { step, stopped: true };
    }
    if (
      args.checkpointEvery > 0 && step % args.checkpointEvery === 0 &&
      step * batchSize < data.length
    ) {
      await args.onCheckpoint(step, tally);
    }
  }
  return { step, stopped: false };
}

/** Accuracy of a tally: the diagonal of its confusion matrix over its count. */
export function accuracyOf(tally: EpochTally): number {
  const correct = tally.confusion.reduce((sum, row, i) => sum + row[i], 0);
  return tally.seen === 0 ? 0 : correct / tally.seen;
}

/** Evaluates `model` in inference mode on decoded data, in order. */
export async function runEval(
  model: tf.LayersModel,
  data: DecodedSample[],
  settings: PassSettings & { numClasses: number; progress?: Progress },
): Promise<EpochTally & { logits: Float32Array }> {
  const { batchSize, preprocess, numClasses } = settings;
  const tally = emptyTally(numClasses);
  const logits = new Float32Array(data.length * numClasses);
  const size = preprocess.imgSize * preprocess.imgSize * 3;
  for (let start = 0; start < data.length; start += batchSize) {
    const slice = data.slice(start, start + batchSize);
    const batch = emptyBatch(slice.length, preprocess.imgSize);
    slice.forEach((item, i) => {
      batch.x.set(preprocessForEval(item.image, preprocess), i * size);
      batch.y[i] = item.sample.label;
    });
    const result = await evalBatch(model, batch);
    logits.set(result.logits, start * numClasses);
    addToTally(tally, batch.y, result.predictions, result.loss);
    settings.progress?.update(tally.seen, {
      loss: tally.lossSum / tally.seen,
      accuracy: accuracyOf(tally),
    });
  }
  return { ...tally, logits };
}
