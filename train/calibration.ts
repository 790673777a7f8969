/**
 * Confidence calibration fitted on the validation set at export time:
 * temperature scaling (Guo et al., "On Calibration of Modern Neural
 * Networks", ICML 2017) and the top-score threshold under which a prediction
 * is flagged as uncertain.
 *
 * The threshold is the one that best separates right from wrong val
 * predictions: it maximizes (share of right predictions kept) minus (share
 * of wrong predictions kept), Youden's J statistic with "kept" meaning a
 * calibrated top score at or above the threshold.
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

/** Top score and whether the top class is right, per sample. */
function topScores(logits: Float32Array, labels: ArrayLike<number>, temperature: number) {
  const count = logits.length / labels.length;
  return Array.from({ length: labels.length }, (_, i) => {
    const row = softmaxRow(logits, i * count, count, temperature);
    let best = 0;
    for (let c = 1; c < count; c++) if (row[c] > row[best]) best = c;
    return { score: row[best], right: best === labels[i] };
  });
}

/**
 * Chooses the uncertainty threshold that maximizes Youden's J on val (see
 * the module doc). With no wrong predictions, or no right ones, it returns 0:
 * nothing is flagged.
 */
export function chooseUncertainThreshold(scores: { score: number; right: boolean }[]): number {
  const right = scores.filter((s) => s.right).length;
  const wrong = scores.length - right;
  if (right === 0 || wrong === 0) return 0;
  const candidates = [...new Set(scores.map((s) => s.score))].sort((x, y) => x - y);
  let bestThreshold = 0;
  let bestJ = 0;
  for (const threshold of candidates) {
    const keptRight = scores.filter((s) => s.right && s.score >= threshold).length;
    const keptWrong = scores.filter((s) => !s.right && s.score >= threshold).length;
    const j = keptRight / right - keptWrong / wrong;
    if (j > bestJ) {
      bestJ = j;
      bestThreshold = threshold;
    }
  }
  return bestThreshold;
}

/** Fits the temperature and the uncertainty threshold on val logits. */
export function calibrate(logits: Float32Array, labels: ArrayLike<number>): Calibration {
  const temperature = fitTemperature(logits, labels);
  const scores = topScores(logits, labels, temperature);
  const uncertainThreshold = chooseUncertainThreshold(scores);
  const kept = scores.filter((s) => s.score >= uncertainThreshold);
  return {
    temperature,
    uncertainThreshold,
    valNll: { before: meanNll(logits, labels, 1), after: meanNll(logits, labels, temperature) },
    valFlaggedShare: 1 - kept.length / scores.length,
    valAccuracyKept: kept.length === 0 ? 0 : kept.filter((s) => s.right).length / kept.length,
    atSearchBound: temperature < TEMPERATURE_RANGE[0] * 1.01 ||
      temperature > TEMPERATURE_RANGE[1] * 0.99,
  };
}
