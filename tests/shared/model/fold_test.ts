import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { isBatchNorm } from "../../../shared/model/batch_norm.ts";
import { foldBatchNorm, hasFoldableBatchNorm } from "../../../shared/model/fold.ts";
import { maxAbsDifference, randomInput, testMobileNetV2, testResNet } from "./random_batch_norm.ts";

await useBackend("cpu");

const TOLERANCE = 1e-4;

function countClass(model: tf.LayersModel, className: string): number {
  return model.layers.filter((layer) => layer.getClassName() === className).length;
}

function checkFolded(model: tf.LayersModel, expectedFolds: number): void {
  const { model: folded, foldedCount } = foldBatchNorm(model);
  try {
    assert.equal(foldedCount, expectedFolds);
    assert.equal(folded.layers.filter(isBatchNorm).length, 0);
    assert.equal(hasFoldableBatchNorm(folded), false);
    const x = randomInput(2, 5);
    const expected = model.predict(x) as tf.Tensor;
    const actual = folded.predict(x) as tf.Tensor;
    const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]);
    assert.ok(scale > 0.01, `logits are too small to compare (max ${scale})`);
    const difference = maxAbsDifference(expected, actual);
    assert.ok(difference <= TOLERANCE, `max difference ${difference} > ${TOLERANCE}`);
    tf.dispose([x, expected, actual]);
  } finally {
    folded.dispose();
  }
}

Deno.test("foldBatchNorm", async (t) => {
  await t.step("ResNet-18 with CBAM after stages", () => {
    const model = testResNet({ kind: "stages", stages: [1, 2, 3, 4] });
    // 17 convolutions each followed by BatchNorm: stem, 16 in blocks, 3 downsamples.
    checkFolded(model, countClass(model, "BatchNormalization"));
    model.dispose();
  });

  await t.step("ResNet-18 with CBAM in every block", () => {
    const model = testResNet({ kind: "blocks" }, 2);
    checkFolded(model, countClass(model, "BatchNormalization"));
    model.dispose();
  });

  await t.step("MobileNetV2 with CBAM and depthwise convolutions", () => {
    const model = testMobileNetV2(3);
    checkFolded(model, countClass(model, "BatchNormalization"));
    model.dispose();
  });

  await t.step("removes dropout and fuses ReLU", () => {
    const model = testMobileNetV2(4);
    const { model: folded, fusedActivationCount } = foldBatchNorm(model);
    assert.equal(countClass(folded, "Dropout"), 0);
    // MobileNetV2's activations are ReLU6, which tfjs-layers cannot fuse.
    assert.equal(fusedActivationCount, 0);
    assert.equal(countClass(folded, "ReLU"), countClass(model, "ReLU"));
    folded.dispose();
    model.dispose();

    const resnet = testResNet({ kind: "none" }, 5);
    const result = foldBatchNorm(resnet);
    // Stem ReLU and the first ReLU of each of the 8 blocks follow a BatchNorm.
    assert.equal(result.fusedActivationCount, 9);
    assert.equal(countClass(result.model, "ReLU"), countClass(resnet, "ReLU") - 9);
    result.model.dispose();
    resnet.dispose();
  });

  await t.step("leaves the original model usable", () => {
    const model = testResNet({ kind: "none" }, 6);
    const x = randomInput(1, 7);
    const before = model.predict(x) as tf.Tensor;
    foldBatchNorm(model).model.dispose();
    const after = model.predict(x) as tf.Tensor;
    assert.equal(maxAbsDifference(before, after), 0);
    tf.dispose([x, before, after]);
    model.dispose();
  });

  await t.step("keeps a BatchNorm that follows no convolution", () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const normalized = tf.layers.batchNormalization({ name: "bn" }).apply(input);
    const pooled = tf.layers.globalAveragePooling2d({}).apply(normalized) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: pooled });
    const { model: folded, foldedCount } = foldBatchNorm(model);
    assert.equal(foldedCount, 0);
    assert.equal(folded.layers.filter(isBatchNorm).length, 1);
    folded.dispose();
    model.dispose();
  });
});
