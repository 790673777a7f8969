import assert from "node:assert/strict";
import { rotateClockwise, SHIFTS, swapBackground } from "../../train/shifts.ts";
import type { RgbImage } from "../../shared/image/types.ts";

// A 2x1 image: a white board pixel, then a dark red object pixel.
const PHOTO: RgbImage = { width: 2, height: 1, data: new Uint8Array([240, 240, 235, 120, 10, 10]) };
const GREEN: RgbImage = {
  width: 4,
  height: 4,
  data: new Uint8Array(48).fill(0).map((_, i) => (i % 3 === 1 ? 200 : 0)),
};

Deno.test("rotateClockwise turns a 2x1 image into a 1x2 one", () => {
  const turned = rotateClockwise(PHOTO);
  assert.equal(turned.width, 1);
  assert.equal(turned.height, 2);
  assert.deepEqual([...turned.data], [240, 240, 235, 120, 10, 10]);
  const row: RgbImage = {
    width: 3,
    height: 2,
    data: Uint8Array.from({ length: 18 }, (_, i) => Math.floor(i / 3)),
  };
  // Pixels 0 1 2 / 3 4 5 become 3 0 / 4 1 / 5 2.
  const quarter = rotateClockwise(row);
  assert.deepEqual([...quarter.data].filter((_, i) => i % 3 === 0), [3, 0, 4, 1, 5, 2]);
});

Deno.test("swapBackground replaces board pixels and keeps the object", () => {
  const swapped = swapBackground(PHOTO, GREEN);
  assert.deepEqual([...swapped.data.subarray(0, 3)], [0, 200, 0], "board pixel now background");
  assert.deepEqual([...swapped.data.subarray(3, 6)], [120, 10, 10], "object pixel kept");
});

Deno.test("every shift returns a whole image and leaves its input alone", () => {
  const before = [...PHOTO.data];
  for (const shift of SHIFTS) {
    const out = shift.apply(PHOTO, { background: GREEN });
    assert.equal(out.data.length, out.width * out.height * 3, shift.name);
    assert.equal(out.width * out.height, 2, shift.name);
  }
  assert.deepEqual([...PHOTO.data], before);
});
