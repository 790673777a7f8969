import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { buildResNet, type CbamPlacement, type ResNetDepth } from "../../../shared/model/resnet.ts";
import { countMacs, countParameters } from "../../../shared/model/summary.ts";

await useBackend("cpu");

// sum(p.numel() for p in torchvision.models.resnetN(num_classes=1000).parameters())
const TORCHVISION_PARAMS: Record<ResNetDepth, number> = {
  18: 11_689_512,
  34: 21_797_672,
  50: 25_557_032,
  101: 44_549_160,
  152: 60_192_808,
};

function cbamParams(channels: number, reduction = 16, kernel = 7): number {
  const hidden = Math.max(1, Math.floor(channels / reduction));
  return 2 * channels * hidden + kernel * kernel * 2;
}

Deno.test("resnet parameter counts equal torchvision's", async (t) => {
  for (const depth of [18, 34, 50, 101, 152] as ResNetDepth[]) {
    await t.step(`resnet${depth}`, () => {
      const model = buildResNet({ depth, numClasses: 1000, imgSize: 64 });
      assert.equal(countParameters(model).total, TORCHVISION_PARAMS[depth]);
      model.dispose();
    });
  }
});

Deno.test("resnet CBAM placements add CBAM parameters", async (t) => {
  const stageOut18 = [64, 128, 256, 512];
  const placements: [string, CbamPlacement, number][] = [
    ["none", { kind: "none" }, 0],
    [
      "all stages",
      { kind: "stages", stages: [1, 2, 3, 4] },
      stageOut18.reduce((s, c) => s + cbamParams(c), 0),
    ],
    ["stages 2 and 4", { kind: "stages", stages: [2, 4] }, cbamParams(128) + cbamParams(512)],
    ["blocks", { kind: "blocks" }, stageOut18.reduce((s, c) => s + 2 * cbamParams(c), 0)],
  ];
  for (const [label, cbam, extra] of placements) {
    await t.step(label, () => {
      const model = buildResNet({ depth: 18, numClasses: 6, imgSize: 64, cbam });
      const plain = TORCHVISION_PARAMS[18] - 1000 * 513 + 6 * 513;
      assert.equal(countParameters(model).total, plain + extra);
      model.dispose();
    });
  }
});

Deno.test("resnet every depth and placement gives logits of the right shape", async (t) => {
  const placements: CbamPlacement[] = [
    { kind: "none" },
    { kind: "stages", stages: [1, 2, 3, 4] },
    { kind: "stages", stages: [3] },
    { kind: "blocks" },
  ];
  for (const depth of [18, 34, 50, 101, 152] as ResNetDepth[]) {
    for (const cbam of placements) {
      await t.step(`resnet${depth} cbam ${JSON.stringify(cbam)}`, () => {
        const model = buildResNet({ depth, numClasses: 5, imgSize: 32, cbam, baseWidth: 8 });
        const logits = tf.tidy(() => model.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor);
        assert.deepEqual(logits.shape, [2, 5]);
        assert.ok(logits.dataSync().every(Number.isFinite));
        logits.dispose();
        model.dispose();
      });
    }
  }
});

Deno.test("resnet layer names follow torchvision keys", () => {
  const model = buildResNet({
    depth: 50,
    numClasses: 3,
    imgSize: 32,
    baseWidth: 8,
    cbam: { kind: "stages", stages: [1] },
  });
  const names = new Set(model.layers.map((l) => l.name));
  for (
    const name of [
      "conv1",
      "bn1",
      "layer1.0.conv3",
      "layer1.0.downsample.0",
      "layer1.0.downsample.1",
      "layer1.cbam.ca",
      "layer1.cbam.sa",
      "layer4.2.bn3",
      "fc",
    ]
  ) {
    assert.ok(names.has(name), `missing layer ${name}`);
  }
  assert.equal(model.getLayer("layer2.0.conv2").getConfig().strides?.toString(), "2,2");
  model.dispose();
});

Deno.test("resnet18 with CBAM after each stage is about 1.82 GMACs at 224", () => {
  const model = buildResNet({
    depth: 18,
    numClasses: 1000,
    imgSize: 224,
    cbam: { kind: "stages", stages: [1, 2, 3, 4] },
  });
  const gmacs = countMacs(model) / 1e9;
  assert.ok(Math.abs(gmacs - 1.82) < 0.01, `got ${gmacs} GMACs`);
  model.dispose();
});

Deno.test("resnet rejects an unknown depth", () => {
  assert.throws(
    () => buildResNet({ depth: 20 as ResNetDepth, numClasses: 2, imgSize: 64 }),
    /Unsupported ResNet depth 20/,
  );
});
