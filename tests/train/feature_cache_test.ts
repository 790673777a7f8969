import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../shared/backend.ts";
import { buildResNet, type CbamPlacement } from "../../shared/model/resnet.ts";
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessConfig,
  preprocessForEval,
} from "../../shared/preprocess.ts";
import { Rng } from "../../shared/random.ts";
import type { DecodedSample } from "../../train/data/loader.ts";
import { createFeatureCache, planFrozenPrefix } from "../../train/feature_cache.ts";
import { createPrefixRunner } from "../../train/prefix_runner.ts";
import { applyFreezePolicy, type FreezePolicy, trainableVariables } from "../../train/freeze.ts";
import { TorchOptimizer } from "../../train/optim.ts";
import { type Batch, trainStep } from "../../train/step.ts";

const IMG = 32;
const PREPROCESS: PreprocessConfig = {
  imgSize: IMG,
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  resizeRatio: 0.875,
};

function model(cbam: CbamPlacement, policy: FreezePolicy): tf.LayersModel {
  const built = buildResNet({
    depth: 18,
    numClasses: 3,
    imgSize: IMG,
    baseWidth: 4,
    cbam,
    seed: 1,
  });
  applyFreezePolicy(built, policy);
  return built;
}

function samples(count: number): DecodedSample[] {
  const rng = new Rng(9);
  return Array.from({ length: count }, (_, i) => ({
    sample: { path: `image${i}.png`, label: i % 3, className: `class${i % 3}` },
    image: {
      width: 40,
      height: 38,
      data: Uint8Array.from({ length: 40 * 38 * 3 }, () => rng.int(256)),
    },
  }));
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);
}

function pixelBatch(data: DecodedSample[], indices: number[]): Batch {
  const size = IMG * IMG * 3;
  const x = new Float32Array(indices.length * size);
  indices.forEach((index, i) => x.set(preprocessForEval(data[index].image, PREPROCESS), i * size));
  const y = Int32Array.from(indices, (index) => data[index].sample.label);
  return { x, y, size: indices.length, imgSize: IMG };
}

const STAGES: CbamPlacement = { kind: "stages", stages: [1, 2, 3, 4] };

Deno.test("planFrozenPrefix finds the boundary", async (t) => {
  await useBackend("cpu");
  const cases: { label: string; cbam: CbamPlacement; policy: FreezePolicy; boundary: string[] }[] =
    [
      {
        label: "freeze, cbam after stages",
        cbam: STAGES,
        policy: { freezeLayers: true },
        boundary: ["layer1.1.relu"],
      },
      {
        label: "trainable from layer3",
        cbam: STAGES,
        policy: { trainableFrom: "layer3" },
        boundary: ["layer3.0.conv1.pad", "layer2.cbam.sa"],
      },
      {
        label: "freeze, cbam in blocks",
        cbam: { kind: "blocks" },
        policy: { freezeLayers: true },
        boundary: ["layer1.0.bn2", "maxpool"],
      },
      {
        label: "linear probe",
        cbam: { kind: "none" },
        policy: { freezeLayers: true },
        boundary: ["avgpool"],
      },
    ];
  for (const c of cases) {
    await t.step(c.label, () => {
      const built = model(c.cbam, c.policy);
      const plan = planFrozenPrefix(built);
      assert.notEqual(typeof plan, "string", String(plan));
      if (typeof plan === "string") return;
      assert.deepEqual(plan.boundary.map((tensor) => tensor.sourceLayer.name), c.boundary);
      for (const layer of plan.prefixLayers) {
        assert.equal(layer.trainableWeights.length, 0, layer.name);
      }
      built.dispose();
    });
  }
});

Deno.test("planFrozenPrefix explains when nothing is cacheable", async () => {
  await useBackend("cpu");
  const built = model(STAGES, {});
  const reason = planFrozenPrefix(built);
  assert.equal(typeof reason, "string");
  assert.match(
    reason as string,
    /no layer with weights is frozen before the first trained layer, conv1/,
  );
  built.dispose();
});

const EQUALITY_CASES: { label: string; cbam: CbamPlacement; policy: FreezePolicy }[] = [
  {
    label: "freeze, cbam after stages 2 and 4",
    cbam: { kind: "stages", stages: [2, 4] },
    policy: { freezeLayers: true },
  },
  { label: "freeze, cbam in blocks", cbam: { kind: "blocks" }, policy: { freezeLayers: true } },
  { label: "trainable from layer3", cbam: STAGES, policy: { trainableFrom: "layer3" } },
];

/** How the frozen prefix runs: in the tape, from the cache, or per batch outside the tape. */
type PrefixMode = "tape" | "cache" | "runner";

/** Trains a fresh seeded model for three SGD steps with the frozen prefix run as `mode` selects. */
async function trainThreeSteps(c: (typeof EQUALITY_CASES)[number], mode: PrefixMode) {
  const cached = mode === "cache";
  const data = samples(8);
  const order = [[3, 0, 5, 6], [1, 7, 2, 4], [6, 1, 0, 3]];
  const built = model(c.cbam, c.policy);
  const variables = trainableVariables(built);
  const optimizer = new TorchOptimizer(variables, { name: "sgd", momentum: 0.9 });

  const cache = cached
    ? await createFeatureCache(built, {
      augment: false,
      data,
      preprocess: PREPROCESS,
      batchSize: 3,
    })
    : undefined;
  assert.equal(cache !== undefined, cached, "cache created");
  const runner = mode === "runner" ? createPrefixRunner(built) : undefined;
  assert.equal(runner !== undefined, mode === "runner", "runner created");
  const losses: number[] = [];
  for (const indices of order) {
    const pixels = pixelBatch(data, indices);
    const batch = cache
      ? cache.batch(indices, Int32Array.from(indices, (i) => data[i].sample.label))
      : runner
      ? await runner.run(pixels)
      : pixels;
    const trained = cache?.model ?? runner?.model ?? built;
    const result = await trainStep(trained, { batch, variables, optimizer }, {
      learningRate: 0.05,
    });
    losses.push(result.loss);
  }

  const weights = variables.map((v) => new Float32Array(v.variable.dataSync()));
  const pixels = tf.tensor4d(pixelBatch(data, [0, 1]).x, [2, IMG, IMG, 3]);
  const output = built.predict(pixels) as tf.Tensor;
  const logits = new Float32Array(output.dataSync());
  tf.dispose([pixels, output]);
  cache?.dispose();
  optimizer.dispose();
  built.dispose();
  return { losses, weights, logits };
}

for (const mode of ["cache", "runner"] as const) {
  Deno.test(`training with the frozen prefix from the ${mode} equals training it in the tape`, async (t) => {
    await useBackend("cpu");
    for (const c of EQUALITY_CASES) {
      await t.step(c.label, async () => {
        await checkSameTraining(c, mode);
      });
    }
  });
}

/** Checks that training with the prefix run as `mode` gives the tape's losses, weights and logits. */
async function checkSameTraining(c: (typeof EQUALITY_CASES)[number], mode: PrefixMode) {
  const tape = await trainThreeSteps(c, "tape");
  const other = await trainThreeSteps(c, mode);
  tape.losses.forEach((loss, i) => assert.ok(Math.abs(loss - other.losses[i]) < 1e-5, `loss ${i}`));
  assert.notDeepEqual(tape.losses[0], tape.losses[2], "training changed the loss");
  tape.weights.forEach((expected, i) => {
    const difference = maxDifference(expected, other.weights[i]);
    assert.ok(difference < 1e-5, `variable ${i}: max difference ${difference}`);
  });
  const logitDifference = maxDifference(tape.logits, other.logits);
  assert.ok(logitDifference < 1e-4, `full-model logits differ by ${logitDifference}`);
}

Deno.test("createPrefixRunner returns nothing when no layer is frozen", async () => {
  await useBackend("cpu");
  const built = model(STAGES, {});
  assert.equal(createPrefixRunner(built), undefined);
  built.dispose();
});

Deno.test("createFeatureCache skips augmentation and oversized caches", async () => {
  await useBackend("cpu");
  const built = model(STAGES, { freezeLayers: true });
  const data = samples(4);
  const common = { data, preprocess: PREPROCESS, batchSize: 2 };
  assert.equal(await createFeatureCache(built, { ...common, augment: true }), undefined);
  assert.equal(
    await createFeatureCache(built, { ...common, augment: false, maxBytes: 1024 }),
    undefined,
  );
  const cache = await createFeatureCache(built, { ...common, augment: false });
  assert.ok(cache, "cache created within the limit");
  assert.equal(cache.byteLength, 4 * 8 * 8 * 4 * 4);
  cache.dispose();
  built.dispose();
});
