/**
 * Confidence calibration fitted on the validation set at export time:
 * temperature scaling (Guo et al., "On Calibration of Modern Neural
 * Networks", ICML 2017) and the top-score threshold under which a prediction
 * is flagged as uncertain.
 *
 * The threshold is the lowest calibrated top score at which the val
 * predictions kept (top score at or above it) reach a target accuracy,
 * 97% by default: an app that requests a retake under it gets
 * predictions that were right 97 times in 100 on val. When no threshold reaches
 * the target, it falls back to the one with the highest accuracy on kept
 * predictions that still keeps half of them.
 *
 * NOTE: val has a few hundred photos, so the threshold moves by a few
 * hundredths between runs, and photos from another source (other
 * backgrounds, light, cameras) get lower scores and more flags than val.
 * @module
 */

/** Calibration stored in metadata.json and applied by the edge service. */
export interface Calibration {
  /** Logits are divided by this before the softmax. */
  temperature: number;
  /** Calibrated top scores below this are flagged `uncertain`. */
  uncertainThreshold: number;
  /** Negative log-likelihood on val before and after scaling. */
  valNll: { before: number; after: number };
  /** Share of val photos flagged uncertain, and val accuracy on the rest. */
  valFlaggedShare: number;
  valAccuracyKept: number;
  /** Accuracy the kept val predictions had to reach, and whether they reached it. */
  targetAccuracy: number;
  targetReached: boolean;
  /** Whether the temperature sits at an end of the search range, so the fit is unreliable. */
  atSearchBound: boolean;
}

/** Range searched for the temperature. */
export const TEMPERATURE_RANGE: [number, number] = [0.05, 20];

function softmaxRow(
  logits: Float32Array,
  offset: number,
  count: number,
  temperature: number,
): Float64Array {
  const row = new Float64Array(count);
  let max = -Infinity;
  for (let c = 0; c < count; c++) max = Math.max(max, logits[offset + c] / temperature);
  let sum = 0;
  for (let c = 0; c < count; c++) {
    row[c] = Math.exp(logits[offset + c] / temperature - max);
    sum += row[c];
  }
  for (let c = 0; c < count; c++) row[c] /= sum;
  return row;
}

/** Mean negative log-likelihood of `labels` under softmax(logits / temperature). */
export function meanNll(
  logits: Float32Array,
  labels: ArrayLike<number>,
  temperature: number,
): number {
  const count = logits.length / labels.length;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = softmaxRow(logits, i * count, count, temperature);
    total -= Math.log(Math.max(row[labels[i]], 1e-12));
  }
  return total / labels.length;
}

/**
 * Finds the temperature in [0.05, 20] that minimizes the val NLL, by golden
 * section search on log(temperature); the NLL is unimodal in it.
 */
export function fitTemperature(logits: Float32Array, labels: ArrayLike<number>): number {
  let low = Math.log(TEMPERATURE_RANGE[0]);
  let high = Math.log(TEMPERATURE_RANGE[1]);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = high - ratio * (high - low);
  let b = low + ratio * (high - low);
  let fa = meanNll(logits, labels, Math.exp(a));
  let fb = meanNll(logits, labels, Math.exp(b));
  for (let i = 0; i < 60; i++) {
    if (fa < fb) {
      high = b;
      b = a;
      fb = fa;
      a = high - ratio * (high - low);
      fa = meanNll(logits, labels, Math.exp(a));
    } else {
      low = a;
      a = b;
      fa = fb;
      b = low + ratio * (high - low);
      fb = meanNll(logits, labels, Math.exp(b));
    }
  }
  return Math.exp((low + high) / 2);
}

/** Returns the calibrated top score and whether the top class is right, per sample. */
export function topScores(logits: Float32Array, labels: ArrayLike<number>, temperature: number) {
  const count = logits.length / labels.length;
  return Array.from({ length: labels.length }, (_, i) => {
    const row = softmaxRow(logits, i * count, count, temperature);
    let best = 0;
    for (let c = 1; c < count; c++) if (row[c] > row[best]) best = c;
    return { score: row[best], right: best === labels[i] };
  });
}

/** Default accuracy that the kept (not flagged) val predictions must reach. */
export const DEFAULT_TARGET_ACCURACY = 0.97;

/** Share of `scores` kept at `threshold`, and the accuracy of those kept. */
export function keptAt(
  scores: { score: number; right: boolean }[],
  threshold: number,
): { keptShare: number; accuracyKept: number } {
  const kept = scores.filter((s) => s.score >= threshold);
  const right = kept.filter((s) => s.right).length;
  return {
    keptShare: scores.length === 0 ? 0 : kept.length / scores.length,
    accuracyKept: kept.length === 0 ? 0 : right / kept.length,
  };
}

/**
 * Chooses the uncertainty threshold on val (see the module doc): the lowest
 * top score whose kept predictions reach `targetAccuracy`. Returns 0, so
 * nothing is flagged, when all predictions already reach it.
 */
export function chooseUncertainThreshold(
  scores: { score: number; right: boolean }[],
  targetAccuracy = DEFAULT_TARGET_ACCURACY,
): number {
  if (keptAt(scores, 0).accuracyKept >= targetAccuracy) return 0;
  const candidates = [...new Set(scores.map((s) => s.score))].sort((x, y) => x - y);
  for (const threshold of candidates) {
    if (keptAt(scores, threshold).accuracyKept >= targetAccuracy) return threshold;
  }
  let best = 0;
  let bestAccuracy = keptAt(scores, 0).accuracyKept;
  for (const threshold of candidates) {
    const { keptShare, accuracyKept } = keptAt(scores, threshold);
    if (keptShare >= 0.5 && accuracyKept > bestAccuracy) {
      best = threshold;
      bestAccuracy = accuracyKept;
    }
  }
  return best;
}

/** Fits the temperature and the uncertainty threshold on val logits. */
export function calibrate(
  logits: Float32Array,
  labels: ArrayLike<number>,
  options: { targetAccuracy?: number } = {},
): Calibration {
  const temperature = fitTemperature(logits, labels);
  const scores = topScores(logits, labels, temperature);
  const targetAccuracy = options.targetAccuracy ?? DEFAULT_TARGET_ACCURACY;
  const uncertainThreshold = chooseUncertainThreshold(scores, targetAccuracy);
  const { keptShare, accuracyKept } = keptAt(scores, uncertainThreshold);
  return {
    temperature,
    uncertainThreshold,
    valNll: { before: meanNll(logits, labels, 1), after: meanNll(logits, labels, temperature) },
    valFlaggedShare: 1 - keptShare,
    valAccuracyKept: accuracyKept,
    targetAccuracy,
    targetReached: accuracyKept >= targetAccuracy,
    atSearchBound: temperature < TEMPERATURE_RANGE[0] * 1.01 ||
      temperature > TEMPERATURE_RANGE[1] * 0.99,
  };
}
