import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { assertClose, randomArray } from "./reference.ts";

const SHAPE: [number, number, number, number] = [2, 3, 4, 5];

/** Computes batch norm with elementwise ops, whose gradients do not use FusedBatchNorm's. */
function elementwiseBatchNorm(
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  offset: tf.Tensor,
  scale: tf.Tensor,
): tf.Tensor {
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(normalized, scale), offset);
}

/** Maps a flat index of a SHAPE tensor to the flat index of its reduction over `axes`. */
function reducedIndex(index: number, axes: number[]): number {
  let target = 0;
  let stride = 1;
  let rest = index;
  for (let d = SHAPE.length - 1; d >= 0; d--) {
    const coordinate = rest % SHAPE[d];
    rest = Math.floor(rest / SHAPE[d]);
    if (axes.includes(d)) continue;
    target += coordinate * stride;
    stride *= SHAPE[d];
  }
  return target;
}

function batchNormOperands(): tf.Tensor[] {
  const channels = SHAPE[3];
  return [
    tf.tensor4d(randomArray(SHAPE.reduce((a, b) => a * b), 1, 0), SHAPE),
    tf.tensor1d(randomArray(channels, 2, 0)),
    tf.tensor1d(randomArray(channels, 3, 0).map((v) => 0.5 + Math.abs(v))),
    tf.tensor1d(randomArray(channels, 4, 0)),
    tf.tensor1d(randomArray(channels, 5, 0)),
  ];
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`FusedBatchNorm gradient on ${backend} equals elementwise ops`, async () => {
    await useBackend(backend);
    const operands = batchNormOperands();
    const upstream = tf.tensor4d(randomArray(SHAPE.reduce((a, b) => a * b), 6, 0), SHAPE);
    const loss = (fn: (...t: tf.Tensor[]) => tf.Tensor) => (...t: tf.Tensor[]) =>
      tf.sum(tf.mul(fn(...t), upstream));
    const fused = tf.grads(
      loss((x, m, v, o, s) =>
        tf.batchNorm(
          x as tf.Tensor4D,
          m as tf.Tensor1D,
          v as tf.Tensor1D,
          o as tf.Tensor1D,
          s as tf.Tensor1D,
          1e-5,
        )
      ),
    )(operands);
    const reference = tf.grads(loss(elementwiseBatchNorm))(operands);
    for (const [index, name] of ["x", "mean", "variance", "offset", "scale"].entries()) {
      assert.deepEqual(fused[index].shape, reference[index].shape, `${name} shape`);
      assertClose(await fused[index].data(), await reference[index].data(), 1e-4);
    }
    tf.dispose([...operands, upstream, ...fused, ...reference]);
  });

  Deno.test(`Max gradient on ${backend} routes dy to every maximum`, async (t) => {
    await useBackend(backend);
    // Integers from -3 to 3 make repeated maxima common.
    const values = randomArray(SHAPE.reduce((a, b) => a * b), 7, 0).map((v) => Math.round(v * 3));
    const x = tf.tensor4d(values, SHAPE);
    for (const axes of [[3], [1, 2], [0, 1, 2, 3]]) {
      await t.step(`axes ${axes}`, async () => {
        const reduced = tf.max(x, axes, true);
        const upstream = tf.tensor(randomArray(reduced.size, 8, 0), reduced.shape);
        const gradient = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.max(t, axes, true), upstream)))(
          x,
        );
        const maxima = await reduced.data();
        const dy = await upstream.data();
        const expected = new Float32Array(values.length);
        for (let i = 0; i < values.length; i++) {
          const target = reducedIndex(i, axes);
          expected[i] = values[i] === maxima[target] ? dy[target] : 0;
        }
        assertClose(await gradient.data(), expected, 1e-6);
        tf.dispose([reduced, upstream, gradient]);
      });
    }
    x.dispose();
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Mean gradient on ${backend} spreads dy evenly`, async (t) => {
    await useBackend(backend);
    const x = tf.tensor4d(randomArray(SHAPE.reduce((a, b) => a * b), 9, 0), SHAPE);
    for (const axes of [[1, 2], [0, 1, 2], [3]]) {
      await t.step(`axes ${axes}`, async () => {
        const reduced = tf.mean(x, axes, true);
        const upstream = tf.tensor(randomArray(reduced.size, 10, 0), reduced.shape);
        const gradient = tf.grad((v: tf.Tensor) =>
          tf.sum(tf.mul(tf.mean(v, axes, true), upstream))
        )(
          x,
        );
        const count = axes.reduce((product, axis) => product * SHAPE[axis], 1);
        const dy = await upstream.data();
        const expected = Float32Array.from(
          { length: x.size },
          (_, i) => dy[reducedIndex(i, axes)] / count,
        );
        assert.deepEqual(gradient.shape, SHAPE);
        assertClose(await gradient.data(), expected, 1e-7);
        tf.dispose([reduced, upstream, gradient]);
      });
    }
    x.dispose();
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`clip and relu6 gradients on ${backend} include the bounds`, async () => {
    await useBackend(backend);
    const values = [-1, 0, 0.5, 3, 6, 6.5, 2];
    const x = tf.tensor1d(values);
    const dy = tf.tensor1d([1, 2, 3, 4, 5, 6, 7]);
    const clip = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(t, 0, 6), dy)))(x);
    const relu6 = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu6(t), dy)))(x);
    // clipByValue passes dy on [0, 6], both bounds included.
    assert.deepEqual(Array.from(await clip.data()), [0, 2, 3, 4, 5, 0, 7]);
    // relu6 passes dy on (0, 6], as tfjs-core defines it.
    assert.deepEqual(Array.from(await relu6.data()), [0, 0, 3, 4, 5, 0, 7]);
    tf.dispose([x, dy, clip, relu6]);
  });
}
