import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { describeWebGpuAdapter, useBackend } from "../../shared/backend.ts";
import { buildResNet } from "../../shared/model/resnet.ts";
import { applyFreezePolicy, trainableVariables } from "../../train/freeze.ts";
import { TorchOptimizer } from "../../train/optim.ts";
import { type Batch, crossEntropy, trainStep } from "../../train/step.ts";
import { Rng } from "../../shared/random.ts";

const IMG = 32;

await useBackend("cpu");

function tinyModel(seed = 1) {
  return buildResNet({
    depth: 18,
    numClasses: 3,
    imgSize: IMG,
    baseWidth: 4,
    cbam: { kind: "stages", stages: [1, 2, 3, 4] },
    seed,
  });
}

function randomBatch(size: number, seed: number): Batch {
  const rng = new Rng(seed);
  const x = new Float32Array(size * IMG * IMG * 3).map(() => rng.uniform(-2, 2));
  const y = new Int32Array(size).map((_, i) => i % 3);
  return { x, y, size, imgSize: IMG };
}

async function lossOf(model: tf.LayersModel, batch: Batch): Promise<number> {
  const value = tf.tidy(() => {
    const logits = model.apply(tf.tensor4d(batch.x, [batch.size, IMG, IMG, 3]), {
      training: false,
    }) as tf.Tensor2D;
    return crossEntropy(logits, tf.tensor1d(batch.y, "int32"));
  });
  const result = (await value.data())[0];
  value.dispose();
  return result;
}

Deno.test("crossEntropy weighted mean equals PyTorch's definition", async () => {
  const logits = tf.tensor2d([[2, 0, 0], [0, 1, 0]]);
  const labels = tf.tensor1d([0, 2], "int32");
  const weights = tf.tensor1d([1, 1, 3]);
  const nll0 = -Math.log(Math.exp(2) / (Math.exp(2) + 2));
  const nll1 = -Math.log(1 / (Math.E + 2));
  const plain = (await crossEntropy(logits, labels).data())[0];
  const weighted = (await crossEntropy(logits, labels, weights).data())[0];
  assert.ok(Math.abs(plain - (nll0 + nll1) / 2) < 1e-5);
  assert.ok(Math.abs(weighted - (nll0 + 3 * nll1) / 4) < 1e-5);
});

Deno.test("trainStep on cpu lowers the loss on a fixed batch", async () => {
  await useBackend("cpu");
  const model = tinyModel();
  const batch = randomBatch(6, 7);
  const variables = trainableVariables(model);
  const optimizer = new TorchOptimizer(variables, { name: "adam" });
  const before = await lossOf(model, batch);
  for (let i = 0; i < 5; i++) {
    await trainStep(model, { batch, variables, optimizer }, { learningRate: 1e-2 });
  }
  const after = await lossOf(model, batch);
  assert.ok(after < before, `loss went from ${before} to ${after}`);
  optimizer.dispose();
  model.dispose();
});

Deno.test("frozen layers keep weights and BatchNorm statistics after a step", async () => {
  await useBackend("cpu");
  const model = tinyModel(3);
  applyFreezePolicy(model, { freezeLayers: true });
  const frozen = ["conv1", "bn1", "layer1.0.conv1", "layer4.1.bn2"];
  const before = frozen.map((name) => model.getLayer(name).getWeights().map((w) => w.arraySync()));
  const trainableBefore = model.getLayer("fc").getWeights()[0].arraySync();
  const variables = trainableVariables(model);
  assert.ok(variables.every((v) => v.name.startsWith("fc/") || v.name.includes(".cbam.")));
  const optimizer = new TorchOptimizer(variables, { name: "sgd", momentum: 0.9 });
  await trainStep(model, { batch: randomBatch(4, 1), variables, optimizer }, { learningRate: 0.1 });
  frozen.forEach((name, i) => {
    const after = model.getLayer(name).getWeights().map((w) => w.arraySync());
    assert.deepEqual(after, before[i], `layer ${name} changed`);
  });
  assert.notDeepEqual(model.getLayer("fc").getWeights()[0].arraySync(), trainableBefore);
  optimizer.dispose();
  model.dispose();
});

Deno.test("trainable-from freezes earlier stages and names bad stages", async () => {
  await useBackend("cpu");
  const model = tinyModel();
  applyFreezePolicy(model, { trainableFrom: "layer3" });
  assert.equal(model.getLayer("layer2.1.conv2").trainable, false);
  assert.equal(model.getLayer("layer3.0.conv1").trainable, true);
  assert.equal(model.getLayer("fc").trainable, true);
  assert.throws(
    () => applyFreezePolicy(model, { trainableFrom: "layer9" }),
    /layer9.*layer1, layer2/,
  );
  model.dispose();
});

async function gradientsOn(backend: "cpu" | "webgpu", model: tf.LayersModel, batch: Batch) {
  await useBackend(backend);
  const variables = trainableVariables(model);
  const x = tf.tensor4d(batch.x, [batch.size, IMG, IMG, 3]);
  const y = tf.tensor1d(batch.y, "int32");
  // Inference-mode forward keeps the running statistics unchanged, so both
  // backends see the same weights.
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(model.apply(x, { training: false }) as tf.Tensor2D, y),
    variables.map((v) => v.variable),
  );
  const result: Record<string, Float32Array> = {};
  for (const { name, variable } of variables) {
    result[name] = new Float32Array(await grads[variable.name].data());
  }
  const loss = (await value.data())[0];
  tf.dispose([x, y, value, ...Object.values(grads)]);
  return { loss, grads: result };
}

const adapter = await describeWebGpuAdapter();

Deno.test({
  name: "webgpu step lowers the loss and matches cpu gradients",
  ignore: !adapter.available,
  async fn() {
    const model = tinyModel(5);
    const batch = randomBatch(2, 11);
    const cpu = await gradientsOn("cpu", model, batch);
    const gpu = await gradientsOn("webgpu", model, batch);
    assert.ok(Math.abs(cpu.loss - gpu.loss) < 1e-4 * Math.max(1, Math.abs(cpu.loss)));
    for (const [name, expected] of Object.entries(cpu.grads)) {
      const actual = gpu.grads[name];
      const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      const diff = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i])), 0);
      assert.ok(diff <= 1e-3 * scale, `${name}: max diff ${diff}, scale ${scale}`);
    }
    const variables = trainableVariables(model);
    const optimizer = new TorchOptimizer(variables, { name: "sgd", momentum: 0.9 });
    const before = await lossOf(model, batch);
    for (let i = 0; i < 3; i++) {
      await trainStep(model, { batch, variables, optimizer }, { learningRate: 0.05 });
    }
    const after = await lossOf(model, batch);
    assert.ok(after < before, `webgpu loss went from ${before} to ${after}`);
    optimizer.dispose();
    model.dispose();
    await useBackend("cpu");
  },
});

if (!adapter.available) {
  console.warn(
    `SKIPPED webgpu tests: ${adapter.description}. ` +
      "Install Mesa's software adapter with: apt-get install mesa-vulkan-drivers libgl1-mesa-dri",
  );
}
