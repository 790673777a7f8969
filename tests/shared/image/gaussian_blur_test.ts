import assert from "node:assert/strict";
import { gaussianBlur, randomBlur } from "../../../shared/image/gaussian_blur.ts";
import type { RgbImage } from "../../../shared/image/types.ts";
import { Rng } from "../../../shared/random.ts";

function gray(width: number, height: number, value: (x: number, y: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.fill(value(x, y), (y * width + x) * 3, (y * width + x + 1) * 3);
    }
  }
  return { width, height, data };
}

Deno.test("gaussianBlur keeps a flat image flat", () => {
  const flat = gray(9, 7, () => 137);
  assert.deepEqual(gaussianBlur(flat, 1.5).data, flat.data);
});

Deno.test("gaussianBlur softens a vertical edge symmetrically and keeps its mean", () => {
  const edge = gray(10, 3, (x) => (x < 5 ? 0 : 200));
  const out = gaussianBlur(edge, 1);
  const row = Array.from({ length: 10 }, (_, x) => out.data[(1 * 10 + x) * 3]);
  assert.ok(row[4] > 0, `dark side softened: ${row}`);
  assert.ok(row[5] < 200, `bright side softened: ${row}`);
  assert.equal(row[4] + row[5], 200, "symmetric about the edge");
  assert.equal(row[0], 0, "far dark pixel unchanged");
  assert.equal(row[9], 200, "far bright pixel unchanged");
  for (let x = 1; x < 10; x++) assert.ok(row[x] >= row[x - 1], "still monotonic");
  // Every row is the same: the image does not change vertically.
  assert.deepEqual(out.data.subarray(0, 30), out.data.subarray(60, 90));
});

Deno.test("gaussianBlur handles one-pixel-wide images and rejects a bad sigma", () => {
  const thin = gray(1, 5, (_, y) => y * 50);
  assert.equal(gaussianBlur(thin, 0.5).data.length, 15);
  assert.throws(() => gaussianBlur(thin, 0), /positive number/);
  assert.throws(() => gaussianBlur(thin, Number.NaN), /positive number/);
});

Deno.test("randomBlur follows its probability", async (t) => {
  const edge = gray(8, 8, (x) => (x < 4 ? 0 : 255));
  await t.step("probability 0 returns the same image and draws nothing", () => {
    let drawn = 0;
    const out = randomBlur(edge, { next: () => (drawn++, 0) }, 0);
    assert.equal(out, edge);
    assert.equal(drawn, 0);
  });
  await t.step("probability 1 always blurs, with a sigma from 0.1 to 2", () => {
    const rng = new Rng(4);
    let softened = 0;
    for (let i = 0; i < 20; i++) {
      const out = randomBlur(edge, rng, 1);
      assert.notEqual(out, edge);
      // A sigma near 0.1 leaves the edge as it is; larger ones soften it.
      if (out.data[3 * 3] > 0) softened++;
    }
    assert.ok(softened > 10, `${softened} of 20 softened the edge`);
  });
  await t.step("about half of the images at probability 0.5", () => {
    const rng = new Rng(11);
    let blurred = 0;
    for (let i = 0; i < 200; i++) if (randomBlur(edge, rng, 0.5) !== edge) blurred++;
    assert.ok(blurred > 70, `${blurred} of 200 blurred`);
    assert.ok(blurred < 130, `${blurred} of 200 blurred`);
  });
  await t.step("a probability outside 0..1 is rejected", () => {
    assert.throws(() => randomBlur(edge, new Rng(1), 1.5), /from 0 to 1/);
  });
});
