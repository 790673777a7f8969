/**
 * Classification metrics from a confusion matrix: accuracy, per-class
 * precision, recall, specificity and F1, and their macro means.
 *
 * Every ratio whose denominator is 0 is reported as 0, never NaN, so that a
 * class that is never predicted has precision 0 and still counts in the macro
 * mean, as scikit-learn does with `zero_division=0`. A class that is neither
 * a label nor a prediction (when evaluating on a few classes only) is left
 * out of the macro means, as in scikit-learn.
 *
 * @example
 * ```ts
 * import { confusionMatrix, formatMetricsTable, metricsFromConfusion } from "./metrics.ts";
 * const matrix = confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2);
 * const metrics = metricsFromConfusion(matrix, ["glass", "paper"], 0.41);
 * console.log(metrics.accuracy); // 0.75
 * console.log(formatMetricsTable(metrics));
 * ```
 * @module
 */

/** Metrics of one class, treated as the positive class against all others. */
export interface ClassMetrics {
  /** TP / (TP + FP), or 0 when the class is never predicted. */
  precision: number;
  /** TP / (TP + FN), or 0 when the class is absent from the labels. */
  recall: number;
  /** TN / (TN + FP), or 0 when every sample belongs to this class. */
  specificity: number;
  /** Harmonic mean of precision and recall, or 0 when both are 0. */
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

/** Metrics of one evaluation pass, for example one epoch on the val set. */
export interface EvalMetrics {
  /** Mean loss over the samples, as computed by the caller. */
  loss: number;
  /** Fraction of samples whose predicted class is the true class. */
  accuracy: number;
  /** Metrics of each class, keyed by class name, in class-index order. */
  perClass: Record<string, ClassMetrics>;
  /** Unweighted means over all classes, including classes with no support. */
  macro: { precision: number; recall: number; specificity: number; f1: number };
  /** Counts, where row i and column j count samples of true class i predicted as j. */
  confusionMatrix: number[][];
}

/**
 * Counts each (true class, predicted class) pair. Rows are true classes and
 * columns predicted classes.
 *
 * @throws {RangeError} if the lengths differ or a value is not an integer in
 * [0, numClasses).
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predictions: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`Invalid numClasses ${numClasses}: use a positive integer.`);
  }
  if (labels.length !== predictions.length) {
    throw new RangeError(
      `Got ${labels.length} labels but ${predictions.length} predictions. Pass one ` +
        `prediction per label.`,
    );
  }

  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    const prediction = predictions[i];
    validateClassIndex("label", i, label, numClasses);
    validateClassIndex("prediction", i, prediction, numClasses);
    matrix[label][prediction]++;
  }
  return matrix;
}

/**
 * Computes accuracy, per-class and macro metrics from a confusion matrix whose
 * rows are true classes. `loss` is passed through unchanged.
 *
 * @throws {RangeError} if the matrix is not square with one row per class
 * name, contains a negative or non-integer count, or contains no samples.
 */
export function metricsFromConfusion(
  matrix: number[][],
  classNames: string[],
  loss: number,
): EvalMetrics {
  validateMatrix(matrix, classNames);
  const n = classNames.length;
  const total = sum(matrix.map(sum));
  if (total === 0) {
    throw new RangeError(
      "The confusion matrix contains no samples, so no metric is defined. Evaluate on a " +
        "non-empty set.",
    );
  }

  const perClass: Record<string, ClassMetrics> = {};
  let correct = 0;
  for (let k = 0; k < n; k++) {
    const truePositives = matrix[k][k];
    const support = sum(matrix[k]);
    const predicted = sum(matrix.map((row) => row[k]));
    const falsePositives = predicted - truePositives;
    const falseNegatives = support - truePositives;
    const trueNegatives = total - truePositives - falsePositives - falseNegatives;
    const precision = ratio(truePositives, predicted);
    const recall = ratio(truePositives, support);
    perClass[classNames[k]] = {
      precision,
      recall,
      specificity: ratio(trueNegatives, trueNegatives + falsePositives),
      f1: ratio(2 * precision * recall, precision + recall),
      support,
    };
    correct += truePositives;
  }

  // As scikit-learn, the macro means cover the classes that are labels or predictions.
  const present = Object.values(perClass).filter((_, k) =>
    sum(matrix[k]) > 0 || sum(matrix.map((row) => row[k])) > 0
  );
  const macro = {
    precision: sum(present.map((m) => m.precision)) / present.length,
    recall: sum(present.map((m) => m.recall)) / present.length,
    specificity: sum(present.map((m) => m.specificity)) / present.length,
    f1: sum(present.map((m) => m.f1)) / present.length,
  };
  const copy = matrix.map((row) => [...row]);
  return { loss, accuracy: correct / total, perClass, macro, confusionMatrix: copy };
}

/**
 * Formats metrics as an aligned text table for the console: one row per
 * class, a macro row, then accuracy and loss.
 *
 * @example
 * ```text
 * class      precision  recall  specificity      f1  support
 * glass         1.0000  0.5000       1.0000  0.6667        2
 * paper         0.6667  1.0000       0.5000  0.8000        2
 * macro         0.8333  0.7500       0.7500  0.7333        4
 * accuracy 0.7500  loss 0.4100
 * ```
 */
export function formatMetricsTable(metrics: EvalMetrics): string {
  const header = ["class", "precision", "recall", "specificity", "f1", "support"];
  const rows = Object.entries(metrics.perClass).map(([name, m]) => [
    name,
    ...[m.precision, m.recall, m.specificity, m.f1].map(formatDecimal),
    String(m.support),
  ]);
  const totalSupport = sum(Object.values(metrics.perClass).map((m) => m.support));
  const { precision, recall, specificity, f1 } = metrics.macro;
  rows.push([
    "macro",
    ...[precision, recall, specificity, f1].map(formatDecimal),
    `${totalSupport}`,
  ]);

  const table = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column].length)));
  const lines = table.map((row) =>
    row.map((cell, column) =>
      column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])
    ).join("  ")
  );
  lines.push(`accuracy ${formatDecimal(metrics.accuracy)}  loss ${formatDecimal(metrics.loss)}`);
  return lines.join("\n");
}

function validateClassIndex(kind: string, position: number, value: number, n: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= n) {
    throw new RangeError(
      `Invalid ${kind} ${value} at position ${position}: class indices must be integers ` +
        `in [0, ${n}). Check that numClasses matches the model's output size.`,
    );
  }
}

function validateMatrix(matrix: number[][], classNames: string[]): void {
  const n = classNames.length;
  if (n === 0) throw new RangeError("classNames is empty: pass one name per class.");
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    const shape = `${matrix.length} x [${matrix.map((row) => row.length).join(", ")}]`;
    throw new RangeError(
      `The confusion matrix has shape ${shape}, but ${n} class names need a ${n} x ${n} ` +
        `matrix. Pass the class names the matrix was built with.`,
    );
  }
  for (const [i, row] of matrix.entries()) {
    const j = row.findIndex((count) => !Number.isInteger(count) || count < 0);
    if (j !== -1) {
      throw new RangeError(
        `Invalid count ${row[j]} at row ${i}, column ${j} of the confusion matrix: counts ` +
          `must be non-negative integers.`,
      );
    }
  }
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function formatDecimal(value: number): string {
  return value.toFixed(4);
}
