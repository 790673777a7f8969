import assert from "node:assert/strict";
import {
  calibrate,
  chooseUncertainThreshold,
  fitTemperature,
  keptAt,
  meanNll,
} from "../../train/calibration.ts";
import { Rng } from "../../shared/random.ts";

/** Logits of an overconfident model: right 80% of the time, logits scaled by 4. */
function overconfidentLogits(count: number, seed: number) {
  const rng = new Rng(seed);
  const classes = 3;
  const logits = new Float32Array(count * classes);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = rng.int(classes);
    const predicted = rng.next() < 0.8 ? labels[i] : (labels[i] + 1 + rng.int(2)) % classes;
    for (let c = 0; c < classes; c++) {
      logits[i * classes + c] = 4 * (rng.uniform(-1, 1) + (c === predicted ? 2 : 0));
    }
  }
  return { logits, labels };
}

Deno.test("fitTemperature lowers the NLL of an overconfident model", () => {
  const { logits, labels } = overconfidentLogits(400, 1);
  const temperature = fitTemperature(logits, labels);
  assert.ok(temperature > 1, `temperature ${temperature}`);
  assert.ok(meanNll(logits, labels, temperature) < meanNll(logits, labels, 1));
  for (const nearby of [temperature * 0.9, temperature * 1.1]) {
    assert.ok(meanNll(logits, labels, temperature) <= meanNll(logits, labels, nearby) + 1e-9);
  }
});

Deno.test("chooseUncertainThreshold reaches the target accuracy", async (t) => {
  const scores = [
    { score: 0.95, right: true },
    { score: 0.9, right: true },
    { score: 0.8, right: true },
    { score: 0.6, right: false },
    { score: 0.5, right: false },
    { score: 0.85, right: false },
  ];
  await t.step("default 97%: keeps only the two top answers", () => {
    assert.equal(chooseUncertainThreshold(scores), 0.9);
  });
  await t.step("70%: the lowest score with 3 of 4 kept answers right", () => {
    assert.equal(chooseUncertainThreshold(scores, 0.7), 0.8);
  });
  await t.step("all answers right: nothing flagged", () => {
    assert.equal(chooseUncertainThreshold(scores.filter((s) => s.right)), 0);
  });
  await t.step("target out of reach: best accuracy keeping half", () => {
    const confidentMistake = [
      { score: 0.99, right: false },
      { score: 0.9, right: true },
      { score: 0.8, right: true },
      { score: 0.7, right: false },
    ];
    assert.equal(chooseUncertainThreshold(confidentMistake), 0.8);
  });
});

Deno.test("keptAt counts the kept share and their accuracy", () => {
  const scores = [
    { score: 0.9, right: true },
    { score: 0.7, right: false },
    { score: 0.4, right: true },
    { score: 0.3, right: false },
  ];
  assert.deepEqual(keptAt(scores, 0.5), { keptShare: 0.5, accuracyKept: 0.5 });
  assert.deepEqual(keptAt(scores, 0.95), { keptShare: 0, accuracyKept: 0 });
  assert.deepEqual(keptAt([], 0.5), { keptShare: 0, accuracyKept: 0 });
});

Deno.test("calibrate reports the flagged share and kept accuracy", () => {
  const { logits, labels } = overconfidentLogits(300, 2);
  const result = calibrate(logits, labels);
  assert.ok(result.valNll.after < result.valNll.before);
  assert.ok(result.valFlaggedShare > 0);
  assert.ok(result.valFlaggedShare < 1);
  assert.ok(result.valAccuracyKept > 0.8, `kept accuracy ${result.valAccuracyKept}`);
  assert.equal(result.targetAccuracy, 0.97);
  assert.equal(result.targetReached, result.valAccuracyKept >= 0.97);
});
