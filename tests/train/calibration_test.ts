import assert from "node:assert/strict";
import {
  calibrate,
  chooseUncertainThreshold,
  fitTemperature,
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

Deno.test("chooseUncertainThreshold separates right from wrong", () => {
  const scores = [
    { score: 0.95, right: true },
    { score: 0.9, right: true },
    { score: 0.8, right: true },
    { score: 0.6, right: false },
    { score: 0.5, right: false },
    { score: 0.85, right: false },
  ];
  assert.equal(chooseUncertainThreshold(scores), 0.8);
  assert.equal(chooseUncertainThreshold(scores.filter((s) => s.right)), 0);
});

Deno.test("calibrate reports the flagged share and kept accuracy", () => {
  const { logits, labels } = overconfidentLogits(300, 2);
  const result = calibrate(logits, labels);
  assert.ok(result.valNll.after < result.valNll.before);
  assert.ok(result.valFlaggedShare > 0);
  assert.ok(result.valFlaggedShare < 1);
  assert.ok(result.valAccuracyKept > 0.8, `kept accuracy ${result.valAccuracyKept}`);
});
