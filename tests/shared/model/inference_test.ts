import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { compileInferenceModel } from "../../../shared/model/inference.ts";
import { maxAbsDifference, randomInput, testMobileNetV2, testResNet } from "./random_batch_norm.ts";

const TOLERANCE = 1e-4;

function checkEqualOutputs(model: tf.LayersModel): void {
  const inference = compileInferenceModel(model);
  const x = randomInput(2, 11);
  const expected = model.predict(x) as tf.Tensor;
  const actual = inference.predict(x);
  assert.deepEqual(actual.shape, expected.shape);
  const difference = maxAbsDifference(expected, actual);
  assert.ok(difference <= TOLERANCE, `max difference ${difference} > ${TOLERANCE}`);
  tf.dispose([x, expected, actual]);
  inference.dispose();
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`compileInferenceModel on ${backend}`, async (t) => {
    await useBackend(backend);

    await t.step("ResNet-18 with CBAM after stages", () => {
      const model = testResNet({ kind: "stages", stages: [1, 2, 3, 4] });
      checkEqualOutputs(model);
      model.dispose();
    });

    await t.step("ResNet-18 with CBAM in every block", () => {
      const model = testResNet({ kind: "blocks" }, 2);
      checkEqualOutputs(model);
      model.dispose();
    });

    await t.step("MobileNetV2 with CBAM", () => {
      const model = testMobileNetV2(3);
      checkEqualOutputs(model);
      model.dispose();
    });

    await t.step("stats count the merged layers", () => {
      const model = testMobileNetV2(4);
      const inference = compileInferenceModel(model);
      const batchNorms = model.layers.filter((l) => l.getClassName() === "BatchNormalization");
      const relu6 = model.layers.filter((l) => l.getClassName() === "ReLU");
      const paddings = model.layers.filter((l) => l.getClassName() === "ZeroPadding2D");
      assert.equal(inference.stats.foldedBatchNorm, batchNorms.length);
      assert.equal(inference.stats.fusedActivations, relu6.length);
      assert.equal(inference.stats.fusedPaddings, paddings.length);
      assert.ok(inference.stats.steps < model.layers.length / 2);
      inference.dispose();
      model.dispose();
    });

    await t.step("rejects an input of the wrong shape", () => {
      const model = testResNet({ kind: "none" }, 6);
      const inference = compileInferenceModel(model);
      const x = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
      assert.throws(() => inference.predict(x), /expects a batch of shape \[n, 32, 32, 3\]/);
      x.dispose();
      inference.dispose();
      model.dispose();
    });

    await t.step("frees every intermediate tensor", () => {
      const model = testResNet({ kind: "stages", stages: [2] }, 5);
      const inference = compileInferenceModel(model);
      const x = randomInput(1, 3);
      const before = tf.memory().numTensors;
      const logits = inference.predict(x);
      assert.equal(tf.memory().numTensors, before + 1);
      logits.dispose();
      x.dispose();
      inference.dispose();
      model.dispose();
    });
  });
}
