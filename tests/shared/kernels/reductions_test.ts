import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { splitAroundAxes } from "../../../shared/kernels/reductions.ts";
import { assertClose, randomArray } from "./reference.ts";

const SHAPE = [3, 4, 5, 6];

Deno.test("splitAroundAxes handles contiguous non-final axes", () => {
  assert.deepEqual(splitAroundAxes(SHAPE, [0, 1, 2]), [1, 60, 6]);
  assert.deepEqual(splitAroundAxes(SHAPE, [2, 1]), [3, 20, 6]);
  assert.deepEqual(splitAroundAxes(SHAPE, [0]), [1, 3, 120]);
  assert.equal(splitAroundAxes(SHAPE, [3]), undefined, "innermost axis");
  assert.equal(splitAroundAxes(SHAPE, [2, 3]), undefined, "includes the last axis");
  assert.equal(splitAroundAxes(SHAPE, [0, 2]), undefined, "not contiguous");
  assert.equal(splitAroundAxes(SHAPE, []), undefined, "no axes");
});

/** Reduces with plain loops: the definition of sum, mean and max over `axes`. */
function reference(values: Float32Array, axes: number[], name: "sum" | "mean" | "max") {
  const strides = SHAPE.map((_, i) => SHAPE.slice(i + 1).reduce((a, b) => a * b, 1));
  const kept = SHAPE.map((d, i) => (axes.includes(i) ? 1 : d));
  const keptStrides = kept.map((_, i) => kept.slice(i + 1).reduce((a, b) => a * b, 1));
  const size = kept.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size).fill(name === "max" ? -Infinity : 0);
  const count = axes.reduce((product, axis) => product * SHAPE[axis], 1);
  values.forEach((value, index) => {
    const target = SHAPE.reduce(
      (sum, _, d) =>
        sum + (axes.includes(d) ? 0 : Math.floor(index / strides[d]) % SHAPE[d]) * keptStrides[d],
      0,
    );
    out[target] = name === "max" ? Math.max(out[target], value) : out[target] + value;
  });
  return Float32Array.from(out, (v) => (name === "mean" ? v / count : v));
}

const AXES = [[0, 1, 2], [1, 2], [0], [1], [3], [0, 2], [0, 1, 2, 3]];

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`sum, mean and max on ${backend} equal the definition`, async (t) => {
    await useBackend(backend);
    const values = randomArray(SHAPE.reduce((a, b) => a * b), 3, 0);
    const x = tf.tensor(values, SHAPE);
    for (const axes of AXES) {
      for (const name of ["sum", "mean", "max"] as const) {
        await t.step(`${name} over ${axes}`, async () => {
          const expected = reference(values, axes, name);
          for (const keepDims of [false, true]) {
            const result = tf[name](x, axes, keepDims);
            const shape = keepDims
              ? SHAPE.map((d, i) => (axes.includes(i) ? 1 : d))
              : SHAPE.filter((_, i) => !axes.includes(i));
            assert.deepEqual(result.shape, shape, `shape with keepDims ${keepDims}`);
            assertClose(await result.data(), expected, 1e-5);
            result.dispose();
          }
        });
      }
    }
    x.dispose();
  });
}

Deno.test("max on wasm propagates NaN", async () => {
  await useBackend("wasm");
  const x = tf.tensor([1, Number.NaN, 3, 4, 5, 6], [3, 2, 1]);
  // Columns: [1, 3, 5] and [NaN, 4, 6].
  const result = await tf.max(x, [0]).data();
  assert.equal(result[0], 5);
  assert.ok(Number.isNaN(result[1]), `second column: ${result[1]}`);
  x.dispose();
});
