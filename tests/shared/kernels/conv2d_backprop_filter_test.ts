import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { Rng } from "../../../shared/random.ts";

interface Case {
  label: string;
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  stride: number;
  pad: "same" | "valid" | number;
}

const CASES: Case[] = [
  {
    label: "3x3 stride 1 same",
    xShape: [2, 7, 6, 3],
    filterShape: [3, 3, 3, 4],
    stride: 1,
    pad: "same",
  },
  {
    label: "3x3 stride 2 valid",
    xShape: [2, 9, 9, 2],
    filterShape: [3, 3, 2, 5],
    stride: 2,
    pad: "valid",
  },
  {
    label: "7x7 stride 2 pad 3",
    xShape: [1, 16, 12, 3],
    filterShape: [7, 7, 3, 4],
    stride: 2,
    pad: 3,
  },
  {
    label: "1x1 stride 2 valid",
    xShape: [3, 8, 8, 4],
    filterShape: [1, 1, 4, 6],
    stride: 2,
    pad: "valid",
  },
  {
    label: "3x3 stride 2 same",
    xShape: [2, 8, 7, 2],
    filterShape: [3, 3, 2, 3],
    stride: 2,
    pad: "same",
  },
];

function randomArray(length: number, seed: number, zeroFraction = 0.3): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(length).map(() => (rng.next() < zeroFraction ? 0 : rng.uniform(-1, 1)));
}

/** The definition, with padding read from tfjs's own conv geometry. */
function referenceGradient(x: Float32Array, dy: Float32Array, c: Case): Float32Array {
  const info = tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.stride, 1, c.pad);
  const [kh, kw, ci, co] = c.filterShape;
  const [batch, height, width] = c.xShape;
  const result = new Float32Array(kh * kw * ci * co);
  for (let a = 0; a < kh; a++) {
    for (let bw = 0; bw < kw; bw++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) {
          let sum = 0;
          for (let n = 0; n < batch; n++) {
            for (let r = 0; r < info.outHeight; r++) {
              for (let s = 0; s < info.outWidth; s++) {
                const y = r * c.stride + a - info.padInfo.top;
                const z = s * c.stride + bw - info.padInfo.left;
                if (y < 0 || y >= height || z < 0 || z >= width) continue;
                sum += x[((n * height + y) * width + z) * ci + i] *
                  dy[((n * info.outHeight + r) * info.outWidth + s) * co + o];
              }
            }
          }
          result[((a * kw + bw) * ci + i) * co + o] = sum;
        }
      }
    }
  }
  return result;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Conv2DBackpropFilter on ${backend} equals the definition`, async (t) => {
    await useBackend(backend);
    for (const [index, c] of CASES.entries()) {
      await t.step(c.label, async () => {
        const info = tf.backend_util.computeConv2DInfo(c.xShape, c.filterShape, c.stride, 1, c.pad);
        const x = randomArray(c.xShape.reduce((a, b) => a * b), index);
        const dy = randomArray(
          info.batchSize * info.outHeight * info.outWidth * info.outChannels,
          100 + index,
          0,
        );
        const gradient = tf.engine().runKernel("Conv2DBackpropFilter", {
          x: tf.tensor4d(x, c.xShape),
          dy: tf.tensor4d(dy, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]),
        }, {
          strides: c.stride,
          pad: c.pad,
          dataFormat: "NHWC",
          filterShape: c.filterShape,
        }) as tf.Tensor;
        const actual = await gradient.data();
        const expected = referenceGradient(x, dy, c);
        expected.forEach((value, i) =>
          assert.ok(Math.abs(value - actual[i]) < 1e-4, `${i}: ${actual[i]} vs ${value}`)
        );
        gradient.dispose();
      });
    }
  });
}

Deno.test("wasm training step gradients match cpu", async () => {
  const { buildResNet } = await import("../../../shared/model/resnet.ts");
  const { trainableVariables } = await import("../../../train/freeze.ts");
  const { crossEntropy } = await import("../../../train/step.ts");
  await useBackend("cpu");
  const model = buildResNet({
    depth: 18,
    numClasses: 3,
    imgSize: 32,
    baseWidth: 4,
    cbam: { kind: "stages", stages: [1, 2, 3, 4] },
    seed: 2,
  });
  const x = randomArray(2 * 32 * 32 * 3, 5, 0);
  const gradients = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    const variables = trainableVariables(model);
    const { grads } = tf.variableGrads(() => {
      const logits = model.apply(tf.tensor4d(x, [2, 32, 32, 3]), {
        training: false,
      }) as tf.Tensor2D;
      return crossEntropy(logits, tf.tensor1d([0, 2], "int32"));
    }, variables.map((v) => v.variable));
    const result = new Map<string, Float32Array>();
    for (const v of variables) {
      result.set(v.name, new Float32Array(await grads[v.variable.name].data()));
    }
    return result;
  };
  const cpu = await gradients("cpu");
  const wasm = await gradients("wasm");
  for (const [name, expected] of cpu) {
    const actual = wasm.get(name)!;
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    const diff = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - actual[i])), 0);
    assert.ok(diff <= 1e-4 * scale, `${name}: max diff ${diff} at scale ${scale}`);
  }
  model.dispose();
  await useBackend("cpu");
});
