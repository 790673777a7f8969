import assert from "node:assert/strict";
import {
  confusionMatrix,
  type EvalMetrics,
  formatMetricsTable,
  metricsFromConfusion,
} from "../../train/metrics.ts";

const CLASSES = ["cardboard", "glass", "metal", "trash"];

// 10 samples. "metal" (2) is never predicted; "trash" (3) is predicted once but
// never the true class.
const LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2];
const PREDICTIONS = [0, 0, 0, 1, 1, 1, 0, 3, 1, 1];

function assertClose(actual: number, expected: number, name: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${name}: expected ${expected}, got ${actual}`);
}

Deno.test("confusionMatrix counts true by predicted", () => {
  const matrix = confusionMatrix(LABELS, PREDICTIONS, 4);
  assert.deepEqual(matrix, [
    [3, 1, 0, 0],
    [1, 2, 0, 1],
    [0, 2, 0, 0],
    [0, 0, 0, 0],
  ]);
});

Deno.test("confusionMatrix accepts typed arrays", () => {
  const matrix = confusionMatrix(Int32Array.from(LABELS), Uint8Array.from(PREDICTIONS), 4);
  assert.deepEqual(matrix, confusionMatrix(LABELS, PREDICTIONS, 4));
});

Deno.test("confusionMatrix rejects bad input", async (t) => {
  await t.step("length mismatch", () => {
    assert.throws(() => confusionMatrix([0, 1], [0], 2), /2 labels but 1 predictions/);
  });
  await t.step("label out of range", () => {
    assert.throws(() => confusionMatrix([0, 2], [0, 1], 2), /Invalid label 2 at position 1/);
  });
  await t.step("fractional prediction", () => {
    assert.throws(() => confusionMatrix([0], [0.5], 2), /Invalid prediction 0.5/);
  });
  await t.step("zero classes", () => {
    assert.throws(() => confusionMatrix([], [], 0), /Invalid numClasses 0/);
  });
});

Deno.test("metricsFromConfusion matches hand computation", async (t) => {
  const metrics = metricsFromConfusion(confusionMatrix(LABELS, PREDICTIONS, 4), CLASSES, 0.9);

  await t.step("accuracy and loss", () => {
    assertClose(metrics.accuracy, 5 / 10, "accuracy");
    assert.equal(metrics.loss, 0.9);
  });

  await t.step("ordinary class", () => {
    // cardboard: TP 3, FP 1, FN 1, TN 5.
    const m = metrics.perClass.cardboard;
    assertClose(m.precision, 3 / 4, "precision");
    assertClose(m.recall, 3 / 4, "recall");
    assertClose(m.specificity, 5 / 6, "specificity");
    assertClose(m.f1, 3 / 4, "f1");
    assert.equal(m.support, 4);
  });

  await t.step("class with extra predictions", () => {
    // glass: TP 2, FP 3, FN 2, TN 3.
    const m = metrics.perClass.glass;
    assertClose(m.precision, 2 / 5, "precision");
    assertClose(m.recall, 2 / 4, "recall");
    assertClose(m.specificity, 3 / 6, "specificity");
    assertClose(m.f1, (2 * (2 / 5) * (2 / 4)) / (2 / 5 + 2 / 4), "f1");
    assert.equal(m.support, 4);
  });

  await t.step("class never predicted", () => {
    // metal: TP 0, FP 0, FN 2, TN 8.
    const m = metrics.perClass.metal;
    assert.equal(m.precision, 0);
    assert.equal(m.recall, 0);
    assertClose(m.specificity, 8 / 8, "specificity");
    assert.equal(m.f1, 0);
    assert.equal(m.support, 2);
  });

  await t.step("class absent from labels", () => {
    // trash: TP 0, FP 1, FN 0, TN 9.
    const m = metrics.perClass.trash;
    assert.equal(m.precision, 0);
    assert.equal(m.recall, 0);
    assertClose(m.specificity, 9 / 10, "specificity");
    assert.equal(m.f1, 0);
    assert.equal(m.support, 0);
  });

  await t.step("macro means count every class", () => {
    const glassF1 = (2 * (2 / 5) * (2 / 4)) / (2 / 5 + 2 / 4);
    assertClose(metrics.macro.precision, (3 / 4 + 2 / 5 + 0 + 0) / 4, "macro precision");
    assertClose(metrics.macro.recall, (3 / 4 + 2 / 4 + 0 + 0) / 4, "macro recall");
    assertClose(metrics.macro.specificity, (5 / 6 + 3 / 6 + 1 + 9 / 10) / 4, "macro specificity");
    assertClose(metrics.macro.f1, (3 / 4 + glassF1 + 0 + 0) / 4, "macro f1");
  });

  await t.step("macro means skip a class never seen nor predicted", () => {
    // cardboard: TP 2, FN 1 (predicted glass); glass: TP 1, FP 1; metal and trash unused.
    const few = metricsFromConfusion(
      [[2, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
      ["cardboard", "glass", "metal", "trash"],
      0,
    );
    assertClose(few.macro.recall, (2 / 3 + 1) / 2, "macro recall");
    assertClose(few.macro.precision, (1 + 1 / 2) / 2, "macro precision");
    assert.equal(few.perClass.metal.support, 0);
  });

  await t.step("every value finite", () => {
    const values = [
      ...Object.values(metrics.perClass).flatMap((m) => Object.values(m)),
      ...Object.values(metrics.macro),
    ];
    for (const value of values) assert.ok(Number.isFinite(value), `got ${value}`);
  });

  await t.step("per-class keys in class order", () => {
    assert.deepEqual(Object.keys(metrics.perClass), CLASSES);
  });
});

Deno.test("metricsFromConfusion copies the matrix", () => {
  const matrix = [[2, 0], [1, 1]];
  const metrics = metricsFromConfusion(matrix, ["glass", "paper"], 0);
  matrix[0][0] = 99;
  assert.deepEqual(metrics.confusionMatrix, [[2, 0], [1, 1]]);
});

Deno.test("metricsFromConfusion single-class data", () => {
  // Every sample is glass and predicted glass: paper has no positives at all,
  // and glass has no negatives, so its specificity is 0 rather than NaN.
  const metrics = metricsFromConfusion([[5, 0], [0, 0]], ["glass", "paper"], 0.1);
  assert.equal(metrics.accuracy, 1);
  assert.equal(metrics.perClass.glass.precision, 1);
  assert.equal(metrics.perClass.glass.specificity, 0);
  assert.equal(metrics.perClass.paper.precision, 0);
  assert.equal(metrics.perClass.paper.specificity, 1);
});

Deno.test("metricsFromConfusion rejects bad input", async (t) => {
  await t.step("shape mismatch", () => {
    assert.throws(
      () => metricsFromConfusion([[1, 0], [0, 1]], ["a", "b", "c"], 0),
      /shape 2 x \[2, 2\], but 3 class names need a 3 x 3 matrix/,
    );
  });
  await t.step("ragged rows", () => {
    assert.throws(() => metricsFromConfusion([[1, 0], [0]], ["a", "b"], 0), /shape 2 x \[2, 1\]/);
  });
  await t.step("negative count", () => {
    assert.throws(
      () => metricsFromConfusion([[1, -1], [0, 1]], ["a", "b"], 0),
      /Invalid count -1 at row 0, column 1/,
    );
  });
  await t.step("no samples", () => {
    assert.throws(() => metricsFromConfusion([[0, 0], [0, 0]], ["a", "b"], 0), /no samples/);
  });
  await t.step("no classes", () => {
    assert.throws(() => metricsFromConfusion([], [], 0), /classNames is empty/);
  });
});

Deno.test("formatMetricsTable aligns columns", async (t) => {
  const matrix = confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], 2);
  const metrics: EvalMetrics = metricsFromConfusion(matrix, ["glass", "paper"], 0.41);
  const lines = formatMetricsTable(metrics).split("\n");

  await t.step("rows", () => {
    assert.equal(lines.length, 5);
    assert.match(lines[0], /^class\s+precision\s+recall\s+specificity\s+f1\s+support$/);
    assert.match(lines[1], /^glass\s+1\.0000\s+0\.5000\s+1\.0000\s+0\.6667\s+2$/);
    assert.match(lines[2], /^paper\s+0\.6667\s+1\.0000\s+0\.5000\s+0\.8000\s+2$/);
    assert.match(lines[3], /^macro\s+0\.8333\s+0\.7500\s+0\.7500\s+0\.7333\s+4$/);
    assert.equal(lines[4], "accuracy 0.7500  loss 0.4100");
  });

  await t.step("equal widths", () => {
    const widths = new Set(lines.slice(0, 4).map((line) => line.length));
    assert.equal(widths.size, 1, `table rows differ in length:\n${lines.join("\n")}`);
  });

  await t.step("long class names widen the first column", () => {
    const long = metricsFromConfusion(matrix, ["glass", "biodegradable-paper"], 0.41);
    const table = formatMetricsTable(long).split("\n");
    assert.ok(table[1].startsWith("glass               "));
    assert.equal(new Set(table.slice(0, 4).map((line) => line.length)).size, 1);
  });
});
