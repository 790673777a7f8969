import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../shared/backend.ts";
import { cosineLearningRate, type OptimizerName, TorchOptimizer } from "../../train/optim.ts";

await useBackend("cpu");

// Reference values from PyTorch 1.13 (torch.optim.SGD(lr=0.1, momentum=0.9,
// weight_decay=0.01), Adam(lr=0.1, weight_decay=0.01), AdamW(lr=0.1,
// weight_decay=0.05)) after three steps with the gradients below, starting
// from P0.
const P0 = [[0.5, -1.0], [2.0, 0.25]];
const GRADS = [
  [[0.1, -0.2], [0.3, 0.05]],
  [[-0.4, 0.2], [0.1, 0.6]],
  [[0.05, 0.05], [-0.3, 0.2]],
];
interface TorchCase {
  lr: number;
  momentum: number;
  weightDecay: number;
  expected: number[];
}
const TORCH_RESULTS: Record<OptimizerName, TorchCase> = {
  sgd: {
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 0.01,
    expected: [0.5410954356193542, -0.9832507371902466, 1.9186135530471802, 0.10112769156694412],
  },
  adam: {
    lr: 0.1,
    momentum: 0,
    weightDecay: 0.01,
    expected: [0.48829275369644165, -0.9100632667541504, 1.799065113067627, -0.008762426674365997],
  },
  adamw: {
    lr: 0.1,
    momentum: 0,
    weightDecay: 0.05,
    expected: [0.4844460189342499, -0.9064438343048096, 1.7796378135681152, -0.010678917169570923],
  },
};

function runThreeSteps(
  name: OptimizerName,
  lr: number,
  momentum: number,
  weightDecay: number,
): number[] {
  const variable = tf.variable(tf.tensor2d(P0));
  const optimizer = new TorchOptimizer([{ name: "p", variable }], { name, momentum, weightDecay });
  for (const grad of GRADS) optimizer.apply({ p: tf.tensor2d(grad) }, lr);
  const result = Array.from(variable.dataSync());
  optimizer.dispose();
  variable.dispose();
  return result;
}

Deno.test("optimizers match torch.optim after three steps", async (t) => {
  for (const name of ["sgd", "adam", "adamw"] as OptimizerName[]) {
    await t.step(name, () => {
      const { lr, momentum, weightDecay, expected } = TORCH_RESULTS[name];
      const actual = runThreeSteps(name, lr, momentum, weightDecay);
      actual.forEach((value, i) =>
        assert.ok(Math.abs(value - expected[i]) < 1e-6, `${name}[${i}]: ${value} vs ${expected[i]}`)
      );
    });
  }
});

Deno.test("optimizer state round-trips through getState and setState", () => {
  const make = () => tf.variable(tf.tensor2d(P0));
  const a = make();
  const b = make();
  const first = new TorchOptimizer([{ name: "p", variable: a }], {
    name: "adamw",
    weightDecay: 0.05,
  });
  first.apply({ p: tf.tensor2d(GRADS[0]) }, 0.1);
  b.assign(a);
  const second = new TorchOptimizer([{ name: "p", variable: b }], {
    name: "adamw",
    weightDecay: 0.05,
  });
  second.setState(first.getState());
  first.apply({ p: tf.tensor2d(GRADS[1]) }, 0.1);
  second.apply({ p: tf.tensor2d(GRADS[1]) }, 0.1);
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  assert.equal(second.step, 2);
});

Deno.test("cosine schedule goes from lr to lr * lrf", () => {
  const options = { lr: 0.1, lrf: 0.01, epochs: 11 };
  assert.equal(cosineLearningRate(0, options), 0.1);
  assert.ok(Math.abs(cosineLearningRate(10, options) - 0.001) < 1e-12);
  assert.ok(Math.abs(cosineLearningRate(5, options) - 0.1 * (0.01 + 0.99 * 0.5)) < 1e-12);
  assert.equal(cosineLearningRate(0, { lr: 0.1, lrf: 0.01, epochs: 1 }), 0.1);
});

Deno.test("optimizer rejects an unknown name", () => {
  assert.throws(
    () => new TorchOptimizer([], { name: "rmsprop" as OptimizerName }),
    /Unknown optimizer "rmsprop"/,
  );
});
