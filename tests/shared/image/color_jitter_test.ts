import assert from "node:assert/strict";
import { colorJitter } from "../../../shared/image/color_jitter.ts";
import type { UniformSource } from "../../../shared/image/random_resized_crop.ts";
import type { RgbImage } from "../../../shared/image/types.ts";
import { Rng } from "../../../shared/random.ts";

/** Returns the given numbers in turn, and counts how many were drawn. */
function sequence(values: number[]): UniformSource & { drawn: number } {
  const source = {
    drawn: 0,
    next(): number {
      if (source.drawn >= values.length) throw new Error("sequence exhausted");
      return values[source.drawn++];
    },
  };
  return source;
}

// Two draws of 0.99 keep the order brightness, contrast, saturation.
const KEEP_ORDER = [0.99, 0.99];

const IMAGE: RgbImage = { width: 2, height: 1, data: new Uint8Array([200, 100, 50, 10, 20, 30]) };

Deno.test("colorJitter with strength 0 copies the image and draws nothing", () => {
  const rng = sequence([]);
  const out = colorJitter(IMAGE, rng, 0);
  assert.deepEqual(out.data, IMAGE.data);
  assert.notEqual(out.data, IMAGE.data, "a copy, not the input");
  assert.equal(rng.drawn, 0);
});

Deno.test("colorJitter applies each factor as Pillow's ImageEnhance", async (t) => {
  await t.step("factor 1 everywhere leaves pixels unchanged", () => {
    const out = colorJitter(IMAGE, sequence([...KEEP_ORDER, 0.5, 0.5, 0.5]), 0.5);
    assert.deepEqual([...out.data], [...IMAGE.data]);
  });
  await t.step("brightness 0.5 halves every channel, truncating", () => {
    const out = colorJitter(IMAGE, sequence([...KEEP_ORDER, 0, 0.5, 0.5]), 0.5);
    assert.deepEqual([...out.data], [100, 50, 25, 5, 10, 15]);
  });
  await t.step("contrast 0 gives the mean luma everywhere", () => {
    // Luma: 200*.299 + 100*.587 + 50*.114 = 124.2 -> 124; 10, 20, 30 -> 18.
    // Mean luma (124 + 18) / 2 = 71.
    const out = colorJitter(IMAGE, sequence([...KEEP_ORDER, 0.5, 0, 0.5]), 1);
    assert.deepEqual([...out.data], [71, 71, 71, 71, 71, 71]);
  });
  await t.step("saturation 0 gives each pixel's luma", () => {
    const out = colorJitter(IMAGE, sequence([...KEEP_ORDER, 0.5, 0.5, 0]), 1);
    assert.deepEqual([...out.data], [124, 124, 124, 18, 18, 18]);
  });
  await t.step("brightness 2 clips at 255", () => {
    const out = colorJitter(IMAGE, sequence([...KEEP_ORDER, 1 - 1e-12, 0.5, 0.5]), 1);
    assert.equal(out.data[0], 255);
    assert.equal(out.data[3], 20);
  });
});

Deno.test("colorJitter matches Pillow 9.4 bit for bit", () => {
  // Reference from /usr/bin/python3 (Pillow 9.4): ImageEnhance.Brightness(0.7),
  // then Contrast(1.3), then Color(0.6), on this 4x3 image.
  // deno-fmt-ignore
  const input = [130, 183, 14, 238, 127, 26, 80, 57, 190, 240, 126, 194, 52, 127, 6, 110, 208, 143,
    93, 199, 81, 36, 71, 227, 64, 67, 0, 2, 107, 110, 84, 85, 148, 160, 101, 104];
  // deno-fmt-ignore
  const pillow = [100, 129, 44, 158, 98, 44, 47, 34, 107, 167, 105, 141, 36, 77, 23, 98, 150, 116,
    82, 139, 74, 23, 41, 127, 31, 33, 12, 20, 63, 66, 53, 54, 88, 105, 73, 74];
  const image = { width: 4, height: 3, data: Uint8Array.from(input) };
  // Strength 1: factor = 2u, so u = 0.35, 0.65, 0.3 give 0.7, 1.3, 0.6.
  const out = colorJitter(image, sequence([...KEEP_ORDER, 0.35, 0.65, 0.3]), 1);
  assert.deepEqual([...out.data], pillow);
});

Deno.test("colorJitter draws five numbers and repeats for the same seed", () => {
  const rng = sequence([0.1, 0.7, 0.2, 0.8, 0.4]);
  colorJitter(IMAGE, rng, 0.4);
  assert.equal(rng.drawn, 5);
  const a = colorJitter(IMAGE, new Rng(5), 0.4);
  const b = colorJitter(IMAGE, new Rng(5), 0.4);
  assert.deepEqual(a.data, b.data);
});

Deno.test("colorJitter rejects a negative or non-finite strength", () => {
  assert.throws(() => colorJitter(IMAGE, new Rng(1), -0.1), /at least 0/);
  assert.throws(() => colorJitter(IMAGE, new Rng(1), Number.NaN), /at least 0/);
});
