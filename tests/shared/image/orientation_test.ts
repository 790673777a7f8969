import assert from "node:assert/strict";
import { decodeImage } from "../../../shared/image/decode.ts";
import { applyOrientation } from "../../../shared/image/orientation.ts";
import type { RgbImage } from "../../../shared/image/types.ts";
import {
  encodeJpeg,
  encodePng,
  exifBlock,
  makeImage,
  meanAbsoluteDifference,
  pixelAt,
} from "./helpers.ts";

/**
 * Where displayed pixel (x, y) comes from in the stored image, per the EXIF
 * 2.3 definition of each value (which stored row/column is the visual
 * top/left). `w` and `h` are the stored width and height.
 */
const SOURCE_OF_DISPLAYED: Record<
  number,
  (x: number, y: number, w: number, h: number) => number[]
> = {
  1: (x, y) => [x, y],
  2: (x, y, w) => [w - 1 - x, y],
  3: (x, y, w, h) => [w - 1 - x, h - 1 - y],
  4: (x, y, _w, h) => [x, h - 1 - y],
  5: (x, y) => [y, x],
  6: (x, y, _w, h) => [y, h - 1 - x],
  7: (x, y, w, h) => [w - 1 - y, h - 1 - x],
  8: (x, y, w) => [w - 1 - y, x],
};

/** Builds the stored image that displays as `upright` under `orientation`. */
function storedFor(upright: RgbImage, orientation: number): RgbImage {
  const swapped = orientation >= 5;
  const width = swapped ? upright.height : upright.width;
  const height = swapped ? upright.width : upright.height;
  const data = new Uint8Array(upright.data.length);
  for (let y = 0; y < upright.height; y++) {
    for (let x = 0; x < upright.width; x++) {
      const [sx, sy] = SOURCE_OF_DISPLAYED[orientation](x, y, width, height);
      data.set(pixelAt(upright, x, y), (sy * width + sx) * 3);
    }
  }
  return { width, height, data };
}

// 6x4, every pixel a different colour.
const UPRIGHT = makeImage(6, 4, (x, y) => [10 + 40 * x, 10 + 60 * y, 200]);
const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

Deno.test("applyOrientation matches the visual meaning of each value", () => {
  // A 2x1 stored image: red on the left, blue on the right.
  const row = makeImage(2, 1, (x) => x === 0 ? RED : BLUE);
  const column = (top: number[], bottom: number[]) => ({ width: 1, height: 2, top, bottom });
  const cases: Record<
    number,
    {
      width: number;
      height: number;
      top?: number[];
      bottom?: number[];
      left?: number[];
      right?: number[];
    }
  > = {
    2: { width: 2, height: 1, left: BLUE, right: RED }, // mirrored
    3: { width: 2, height: 1, left: BLUE, right: RED }, // upside down
    5: column(RED, BLUE), // transposed: the left column becomes the top row
    6: column(RED, BLUE), // rotated 90 degrees clockwise: left goes to the top
    7: column(BLUE, RED), // transverse
    8: column(BLUE, RED), // rotated 90 degrees counterclockwise: right goes to the top
  };
  for (const [value, expected] of Object.entries(cases)) {
    const shown = applyOrientation(row, Number(value));
    assert.equal(shown.width, expected.width, `orientation ${value} width`);
    assert.equal(shown.height, expected.height, `orientation ${value} height`);
    if (expected.top) {
      assert.deepEqual(pixelAt(shown, 0, 0), expected.top, `orientation ${value} top`);
      assert.deepEqual(pixelAt(shown, 0, 1), expected.bottom, `orientation ${value} bottom`);
    } else {
      assert.deepEqual(pixelAt(shown, 0, 0), expected.left, `orientation ${value} left`);
      assert.deepEqual(pixelAt(shown, 1, 0), expected.right, `orientation ${value} right`);
    }
  }
  // Orientation 4 flips top and bottom, seen on a 1x2 column.
  const flipped = applyOrientation(makeImage(1, 2, (_x, y) => y === 0 ? RED : BLUE), 4);
  assert.deepEqual(pixelAt(flipped, 0, 0), BLUE);
});

Deno.test("applyOrientation rejects values outside 1..8", () => {
  for (const value of [0, 9, 2.5, Number.NaN]) {
    assert.throws(() => applyOrientation(UPRIGHT, value), RangeError);
  }
});

Deno.test("PNG eXIf orientation 1..8 restores the upright image exactly", async (t) => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    for (const littleEndian of [true, false]) {
      await t.step(`orientation ${orientation}, ${littleEndian ? "II" : "MM"}`, async () => {
        const stored = storedFor(UPRIGHT, orientation);
        const png = encodePng(stored, exifBlock(orientation, littleEndian));
        const decoded = await decodeImage(png);
        assert.equal(decoded.width, 6);
        assert.equal(decoded.height, 4);
        assert.deepEqual(decoded.data, UPRIGHT.data);
      });
    }
  }
});

Deno.test("JPEG APP1 orientation 1..8 restores the upright image", async (t) => {
  // 48x32 in 16-pixel blocks of distinct flat colours, which JPEG keeps closely.
  const upright = makeImage(48, 32, (x, y) => [40 + 60 * (x >> 4), 40 + 80 * (y >> 4), 128]);
  for (let orientation = 1; orientation <= 8; orientation++) {
    for (const littleEndian of [true, false]) {
      await t.step(`orientation ${orientation}, ${littleEndian ? "II" : "MM"}`, async () => {
        const stored = storedFor(upright, orientation);
        const jpeg = encodeJpeg(stored, 95, exifBlock(orientation, littleEndian));
        const decoded = await decodeImage(jpeg);
        assert.equal(decoded.width, 48);
        assert.equal(decoded.height, 32);
        const difference = meanAbsoluteDifference(decoded, upright);
        assert.ok(difference < 3, `mean abs difference ${difference.toFixed(2)} levels`);
      });
    }
  }
});

Deno.test("orientation value outside 1..8 in the file is ignored", async () => {
  const png = encodePng(UPRIGHT, exifBlock(9, true));
  assert.deepEqual((await decodeImage(png)).data, UPRIGHT.data);
});
