import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { assertClose, randomArray } from "./reference.ts";

interface PoolCase {
  label: string;
  shape: [number, number, number, number];
  size: number;
  stride: number;
  pad: "valid" | "same";
}

const CASES: PoolCase[] = [
  { label: "3x3 stride 2 valid", shape: [2, 9, 9, 3], size: 3, stride: 2, pad: "valid" },
  { label: "3x3 stride 2 same", shape: [2, 8, 7, 4], size: 3, stride: 2, pad: "same" },
  { label: "2x2 stride 2 valid", shape: [1, 6, 6, 5], size: 2, stride: 2, pad: "valid" },
  { label: "3x3 stride 1 same", shape: [1, 5, 6, 2], size: 3, stride: 1, pad: "same" },
];

/** Routes each dy value to the first maximum of its window in row-major order. */
function reference(x: Float32Array, dy: Float32Array, c: PoolCase): Float32Array {
  const info = tf.backend_util.computePool2DInfo(c.shape, c.size, c.stride, 1, c.pad);
  const [, height, width, channels] = c.shape;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < info.batchSize; b++) {
    for (let oh = 0; oh < info.outHeight; oh++) {
      for (let ow = 0; ow < info.outWidth; ow++) {
        for (let ch = 0; ch < channels; ch++) {
          let best = -Infinity;
          let position = -1;
          for (let kh = 0; kh < c.size; kh++) {
            for (let kw = 0; kw < c.size; kw++) {
              const ih = oh * c.stride + kh - info.padInfo.top;
              const iw = ow * c.stride + kw - info.padInfo.left;
              if (ih < 0 || ih >= height || iw < 0 || iw >= width) continue;
              const index = ((b * height + ih) * width + iw) * channels + ch;
              if (x[index] > best) {
                best = x[index];
                position = index;
              }
            }
          }
          const dyIndex = ((b * info.outHeight + oh) * info.outWidth + ow) * channels + ch;
          if (position >= 0) dx[position] += dy[dyIndex];
        }
      }
    }
  }
  return dx;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`MaxPoolGrad on ${backend} routes dy to the first maximum`, async (t) => {
    await useBackend(backend);
    for (const [index, c] of CASES.entries()) {
      await t.step(c.label, async () => {
        // Integers 0..4 make ties within a window common.
        const x = randomArray(c.shape.reduce((a, b) => a * b), index, 0).map((v) =>
          Math.round((v + 1) * 2)
        );
        const input = tf.tensor4d(x, c.shape);
        const pooled = tf.maxPool(input, c.size, c.stride, c.pad);
        const dy = randomArray(pooled.size, 50 + index, 0);
        const gradient = tf.grad((t: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.maxPool(t as tf.Tensor4D, c.size, c.stride, c.pad),
              tf.tensor(dy, pooled.shape),
            ),
          )
        )(input);
        assert.deepEqual(gradient.shape, c.shape);
        assertClose(await gradient.data(), reference(x, dy, c), 1e-6);
        tf.dispose([input, pooled, gradient]);
      });
    }
  });
}
