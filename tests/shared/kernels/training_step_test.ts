import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { buildResNet, type ResNetArgs } from "../../../shared/model/resnet.ts";
import { buildMobileNetV2 } from "../../../shared/model/mobilenet_v2.ts";
import { applyFreezePolicy, type FreezePolicy, trainableVariables } from "../../../train/freeze.ts";
import { crossEntropy } from "../../../train/step.ts";
import { randomArray } from "./reference.ts";

const IMG = 32;
const BATCH = 4;
const LABELS = [0, 2, 1, 2];

interface ArchitectureCase {
  label: string;
  build: () => tf.LayersModel;
  policy: FreezePolicy;
}

function resnet(
  depth: ResNetArgs["depth"],
  cbam: ResNetArgs["cbam"],
  imgSize = IMG,
): () => tf.LayersModel {
  return () => buildResNet({ depth, numClasses: 3, imgSize, baseWidth: 4, cbam, seed: 2 });
}

function mobileNet(): tf.LayersModel {
  return buildMobileNetV2({
    numClasses: 3,
    imgSize: IMG,
    widthMultiplier: 0.25,
    dropout: 0,
    cbam: { kind: "stages", stages: [1, 2, 3, 4, 5] },
    seed: 2,
  });
}

const STAGES: ResNetArgs["cbam"] = { kind: "stages", stages: [1, 2, 3, 4] };

const CASES: ArchitectureCase[] = [
  { label: "resnet18 cbam stages", build: resnet(18, STAGES), policy: {} },
  {
    label: "resnet18 no cbam, bn eval",
    build: resnet(18, { kind: "none" }),
    policy: { bnEval: true },
  },
  { label: "resnet18 frozen", build: resnet(18, STAGES), policy: { freezeLayers: true } },
  {
    label: "resnet34 trainable from layer3",
    build: resnet(34, STAGES),
    policy: { trainableFrom: "layer3" },
  },
  // 64 px: at 32 px, stage 4 is 1x1, so training-mode BatchNorm normalizes
  // 4 values and amplifies rounding differences to about 1e-3.
  { label: "resnet50 cbam blocks", build: resnet(50, { kind: "blocks" }, 64), policy: {} },
  // BatchNorm in inference mode: in training mode, the gradient of a
  // BatchNorm shift that feeds a linear projection and then another
  // training-mode BatchNorm is 0 in exact arithmetic, so both backends
  // return rounding noise there, which does not compare.
  { label: "mobilenet_v2 cbam stages, bn eval", build: mobileNet, policy: { bnEval: true } },
  { label: "mobilenet_v2 frozen", build: mobileNet, policy: { freezeLayers: true } },
];

/** Gradients of the loss of one training-mode forward pass, by variable name. */
async function gradients(model: tf.LayersModel): Promise<Map<string, Float32Array>> {
  const variables = trainableVariables(model);
  const size = model.inputs[0].shape[1] as number;
  const x = tf.tensor4d(randomArray(BATCH * size * size * 3, 5, 0), [BATCH, size, size, 3]);
  const y = tf.tensor1d(LABELS, "int32");
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(x, { training: true }) as tf.Tensor2D;
    return crossEntropy(logits, y);
  }, variables.map((v) => v.variable));
  assert.ok(Number.isFinite((await value.data())[0]), "loss is finite");
  const result = new Map<string, Float32Array>();
  for (const v of variables) {
    const gradient = grads[v.variable.name];
    assert.ok(gradient, `gradient of ${v.name}`);
    result.set(v.name, new Float32Array(await gradient.data()));
  }
  tf.dispose([x, y, value, ...Object.values(grads)]);
  return result;
}

Deno.test("training step gradients on wasm match cpu", async (t) => {
  for (const c of CASES) {
    await t.step(c.label, async () => {
      await useBackend("cpu");
      const model = c.build();
      applyFreezePolicy(model, c.policy);
      const cpu = await gradients(model);
      await useBackend("wasm");
      const wasm = await gradients(model);
      assert.ok(cpu.size > 0, "some variables train");
      for (const [name, expected] of cpu) {
        const actual = wasm.get(name)!;
        const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
        const difference = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i])), 0);
        assert.ok(
          difference <= 1e-3 * scale,
          `${name}: max difference ${difference} at scale ${scale}`,
        );
      }
      model.dispose();
    });
  }
  await useBackend("cpu");
});
