import assert from "node:assert/strict";
import { Classifier } from "../../../edge/model/classifier.ts";
import { tinyClassifier } from "../helpers/service.ts";

function withCalibration(
  base: Classifier,
  temperature: number,
  uncertainThreshold: number,
): Classifier {
  const metadata = {
    ...base.metadata,
    calibration: {
      temperature,
      uncertainThreshold,
      method: "test",
      valFlaggedShare: 0.1,
      valAccuracyKept: 0.9,
    },
  };
  return new Classifier(base.model, metadata, base.backend);
}

Deno.test("Classifier divides logits by the calibration temperature", async () => {
  const plain = await tinyClassifier();
  const calibrated = withCalibration(plain, 2, 0.5);
  const input = new Float32Array(plain.inputLength).map((_, i) => Math.sin(i));
  const p1 = plain.predict(input);
  const p2 = calibrated.predict(input);
  for (let i = 1; i < p1.length; i++) {
    const expected = Math.log(p1[i] / p1[0]) / 2;
    assert.ok(Math.abs(Math.log(p2[i] / p2[0]) - expected) < 1e-4, `class ${i}`);
  }
});

Deno.test("Classifier flags top scores under the threshold", async () => {
  const plain = await tinyClassifier();
  const calibrated = withCalibration(plain, 1, 0.6);
  assert.equal(calibrated.isUncertain(0.59), true);
  assert.equal(calibrated.isUncertain(0.6), false);
  assert.equal(plain.isUncertain(0.01), false);
  assert.equal(plain.temperature, 1);
});
