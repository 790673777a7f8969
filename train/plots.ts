/**
 * SVG plots of a training run: loss and accuracy curves, and a confusion
 * matrix heatmap. Charts are written as Vega-Lite specifications, compiled to
 * Vega and rendered headlessly (`renderer: "none"`), so no browser or canvas
 * is needed. Without a canvas, Vega estimates text widths from font metrics,
 * so long labels may sit a few pixels off.
 *
 * @example
 * ```ts
 * import { renderConfusionSvg } from "./plots.ts";
 * const svg = await renderConfusionSvg([[5, 1], [0, 6]], ["glass", "paper"], "val, epoch 3");
 * await Deno.writeTextFile("confusion_matrix.svg", svg);
 * ```
 * @module
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** The figures of one epoch that the curves plot. */
export interface EpochHistory {
  /** Epoch number, starting at 1. */
  epoch: number;
  /** Mean training loss. */
  trainLoss: number;
  /** Mean validation loss. */
  valLoss: number;
  /** Training accuracy in [0, 1]. */
  trainAccuracy: number;
  /** Validation accuracy in [0, 1]. */
  valAccuracy: number;
}

/**
 * Renders loss (left) and accuracy (right) against the epoch, with one line
 * for train and one for val. A value that is not finite, such as a NaN loss,
 * leaves a gap in its line.
 *
 * @throws {RangeError} if `history` is empty.
 */
export async function renderCurvesSvg(history: EpochHistory[]): Promise<string> {
  if (history.length === 0) {
    throw new RangeError("The training history is empty: plot the curves after the first epoch.");
  }
  const values = history.flatMap((entry) => [
    curvePoint(entry.epoch, "loss", "train", entry.trainLoss),
    curvePoint(entry.epoch, "loss", "val", entry.valLoss),
    curvePoint(entry.epoch, "accuracy", "train", entry.trainAccuracy),
    curvePoint(entry.epoch, "accuracy", "val", entry.valAccuracy),
  ]);
  const panel = (metric: "loss" | "accuracy", domain?: [number, number]) => ({
    title: metric === "loss" ? "Loss" : "Accuracy",
    width: 320,
    height: 240,
    transform: [{ filter: { field: "metric", equal: metric } }],
    mark: { type: "line" as const, point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative" as const, axis: { tickMinStep: 1 } },
      y: {
        field: "value",
        type: "quantitative" as const,
        title: metric,
        scale: domain ? { domain } : { zero: false },
      },
      color: { field: "split", type: "nominal" as const, title: "split" },
    },
  });

  return await renderSvg({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    data: { values },
    hconcat: [panel("loss"), panel("accuracy", [0, 1])],
  });
}

/**
 * Renders a confusion matrix as a heatmap with the count in each cell. Rows
 * are true classes and columns predicted classes, both in class-index order.
 *
 * @throws {RangeError} if the matrix is not square with one row per class name.
 */
export async function renderConfusionSvg(
  matrix: number[][],
  classNames: string[],
  title = "Confusion matrix",
): Promise<string> {
  const n = classNames.length;
  if (n === 0 || matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new RangeError(
      `The confusion matrix has ${matrix.length} rows, but ${n} class names need a ${n} x ${n} ` +
        `matrix. Pass the class names the matrix was built with.`,
    );
  }
  const values = matrix.flatMap((row, i) =>
    row.map((count, j) => ({ actual: classNames[i], predicted: classNames[j], count }))
  );
  const largest = Math.max(...values.map((cell) => cell.count));
  const x = { field: "predicted", type: "nominal" as const, sort: classNames, title: "predicted" };
  const y = { field: "actual", type: "nominal" as const, sort: classNames, title: "true" };

  return await renderSvg({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values },
    width: { step: 48 },
    height: { step: 48 },
    encoding: { x, y },
    layer: [
      {
        mark: "rect",
        encoding: {
          color: { field: "count", type: "quantitative", scale: { scheme: "blues" } },
        },
      },
      {
        mark: "text",
        encoding: {
          text: { field: "count", type: "quantitative" },
          // Dark cells get white text so the count stays readable.
          color: {
            condition: { test: `datum.count > ${largest / 2}`, value: "white" },
            value: "black",
          },
        },
      },
    ],
  });
}

function curvePoint(epoch: number, metric: string, split: string, value: number) {
  return { epoch, metric, split, value: Number.isFinite(value) ? value : null };
}

async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
