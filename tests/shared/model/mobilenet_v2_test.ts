import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import {
  buildMobileNetV2,
  makeDivisible,
  type MobileNetV2Args,
} from "../../../shared/model/mobilenet_v2.ts";
import { countParameters } from "../../../shared/model/summary.ts";
import { applyStateDict, loadStateDictFile } from "../../../shared/torch/mod.ts";

await useBackend("cpu");

const PRETRAINED = new URL(
  "../../../../shared/pretrained/mobilenet_v2-imagenet-onnxzoo.safetensors",
  import.meta.url,
).pathname;

// sum(p.numel() for p in torchvision.models.mobilenet_v2(width_mult=w).parameters()),
// torchvision 0.14, 1000 classes.
const TORCHVISION_PARAMS: [number, number][] = [
  [1.0, 3_504_872],
  [0.5, 1_968_680],
  [0.25, 1_519_112],
  [1.4, 6_108_776],
];

function cbamParams(channels: number, reduction = 16, kernel = 7): number {
  const hidden = Math.max(1, Math.floor(channels / reduction));
  return 2 * channels * hidden + kernel * kernel * 2;
}

function withModel(args: MobileNetV2Args, fn: (model: tf.LayersModel) => void): void {
  const model = buildMobileNetV2(args);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
}

Deno.test("mobilenet_v2 parameter counts equal torchvision's", async (t) => {
  for (const [widthMultiplier, expected] of TORCHVISION_PARAMS) {
    await t.step(`width ${widthMultiplier}`, () => {
      withModel({ numClasses: 1000, imgSize: 64, widthMultiplier }, (model) => {
        assert.equal(countParameters(model).total, expected);
      });
    });
  }
});

Deno.test("mobilenet_v2 makeDivisible rounds like torchvision", () => {
  // torchvision.models._utils._make_divisible(v, 8) for each v.
  const table: [number, number][] = [
    [8, 8],
    [4, 8],
    [18, 24],
    [33.6, 32],
    [1280, 1280],
    [448, 448],
    [12, 16],
    [3.9, 8],
  ];
  for (const [value, expected] of table) {
    assert.equal(makeDivisible(value), expected, `makeDivisible(${value})`);
  }
});

Deno.test("mobilenet_v2 layers follow torchvision's modules", async (t) => {
  const model = buildMobileNetV2({ numClasses: 6, imgSize: 224 });

  await t.step("layer counts", () => {
    const count = (className: string) =>
      model.layers.filter((layer) => layer.getClassName() === className).length;
    assert.equal(count("Conv2D"), 35);
    assert.equal(count("DepthwiseConv2D"), 17);
    assert.equal(count("BatchNormalization"), 52);
  });
  await t.step("names of a block without expansion and one with", () => {
    const names = new Set(model.layers.map((layer) => layer.name));
    for (
      const name of [
        "features.0.0",
        "features.0.1",
        "features.1.conv.0.0",
        "features.1.conv.1",
        "features.1.conv.2",
        "features.2.conv.0.0",
        "features.2.conv.1.0",
        "features.2.conv.2",
        "features.2.conv.3",
        "features.18.0",
        "classifier.1",
      ]
    ) assert.ok(names.has(name), `layer ${name} is missing`);
    assert.equal(model.getLayer("features.2.conv.1.0").getClassName(), "DepthwiseConv2D");
  });
  await t.step("stride-2 convolutions padded explicitly", () => {
    const padded = model.layers.filter((layer) => layer.name.endsWith(".pad")).map((l) => l.name);
    assert.deepEqual(padded, [
      "features.0.0.pad",
      "features.2.conv.1.0.pad",
      "features.4.conv.1.0.pad",
      "features.7.conv.1.0.pad",
      "features.14.conv.1.0.pad",
    ]);
  });
  await t.step("residual additions where shapes allow", () => {
    const adds = model.layers.filter((layer) => layer.getClassName() === "Add").map((l) => l.name);
    assert.deepEqual(adds, [3, 5, 6, 8, 9, 10, 12, 13, 15, 16].map((i) => `features.${i}.add`));
  });
  await t.step("7x7x1280 features at 224 pixels", () => {
    assert.deepEqual(model.getLayer("features.18.2").outputShape, [null, 7, 7, 1280]);
    assert.deepEqual(model.outputs[0].shape, [null, 6]);
  });
  model.dispose();
});

Deno.test("mobilenet_v2 CBAM placements", async (t) => {
  const plain = 3_504_872 - 1000 * 1281 + 6 * 1281;
  const cases: [number[], number[]][] = [
    [[1, 2, 3, 4, 5], [24, 32, 96, 320, 1280]],
    [[4], [320]],
    [[1, 5], [24, 1280]],
  ];
  for (const [stages, channels] of cases) {
    await t.step(`stages ${stages}`, () => {
      withModel({ numClasses: 6, imgSize: 64, cbam: { kind: "stages", stages } }, (model) => {
        const extra = channels.reduce((sum, c) => sum + cbamParams(c), 0);
        assert.equal(countParameters(model).total, plain + extra);
        const features = [3, 6, 13, 17, 18];
        for (const stage of stages) {
          const name = `cbam.${features[stage - 1]}`;
          assert.equal(model.getLayer(`${name}.ca`).getClassName(), "ChannelAttention");
          assert.equal(model.getLayer(`${name}.sa`).getClassName(), "SpatialAttention");
        }
      });
    });
  }
});

Deno.test("mobilenet_v2 rejects invalid arguments", async (t) => {
  const cases: [string, MobileNetV2Args, RegExp][] = [
    ["no classes", { numClasses: 0, imgSize: 64 }, /numClasses must be a positive integer, got 0/],
    ["tiny input", { numClasses: 2, imgSize: 16 }, /imgSize must be an integer of at least 32/],
    [
      "zero width",
      { numClasses: 2, imgSize: 64, widthMultiplier: 0 },
      /widthMultiplier must be positive/,
    ],
    ["dropout 1", { numClasses: 2, imgSize: 64, dropout: 1 }, /dropout must be in \[0, 1\), got 1/],
    [
      "CBAM stage 6",
      { numClasses: 2, imgSize: 64, cbam: { kind: "stages", stages: [6] } },
      /stages must be among 1-5 \(after features 3, 6, 13, 17, 18\), got 6/,
    ],
  ];
  for (const [label, args, pattern] of cases) {
    await t.step(label, () => assert.throws(() => buildMobileNetV2(args), pattern));
  }
});

Deno.test("mobilenet_v2 dropout is off at inference", () => {
  withModel({ numClasses: 3, imgSize: 32, seed: 5 }, (model) => {
    const input = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 3);
    const first = model.predict(input) as tf.Tensor;
    const second = model.predict(input) as tf.Tensor;
    assert.deepEqual(second.dataSync(), first.dataSync());
    tf.dispose([input, first, second]);
  });
});

let hasPretrained = false;
try {
  hasPretrained = (await Deno.stat(PRETRAINED)).isFile;
} catch {
  console.warn(`Skipping the pretrained MobileNetV2 test: ${PRETRAINED} is absent.`);
}

Deno.test({
  name: "mobilenet_v2 takes the pretrained backbone",
  ignore: !hasPretrained,
  fn: async () => {
    const stateDict = await loadStateDictFile(PRETRAINED);
    withModel(
      { numClasses: 6, imgSize: 224, cbam: { kind: "stages", stages: [1, 2, 3, 4, 5] } },
      (model) => {
        const result = applyStateDict(model, stateDict, {
          allowClassifierMismatch: true,
          allowMissingCbam: true,
        });
        assert.deepEqual(result.skipped, ["classifier.1.weight", "classifier.1.bias"]);
        assert.deepEqual(result.freshCbam, ["cbam.3", "cbam.6", "cbam.13", "cbam.17", "cbam.18"]);
        const bias = model.getLayer("features.0.1").getWeights()[1].dataSync();
        assert.deepEqual(bias, stateDict.get("features.0.1.bias")!.data);
      },
    );
  },
});
