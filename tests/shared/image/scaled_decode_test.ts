import assert from "node:assert/strict";
import { decodeImage, jpegScaleDenominator } from "../../../shared/image/decode.ts";
import { DecoderPool } from "../../../shared/image/decoder_pool.ts";
import type { RgbImage } from "../../../shared/image/types.ts";
import { centerCrop, resizeShorterSide } from "../../../shared/preprocess.ts";
import { encodeJpeg, encodePng, exifBlock, makeImage } from "./helpers.ts";

const fixtures = new URL("../../fixtures/images/", import.meta.url);
const read = (name: string) => Deno.readFile(new URL(name, fixtures));

/**
 * The stated tolerance of a reduced-scale decode, measured after the
 * evaluation resize (shorter side 256) and center crop (224). Channel values
 * differ from the full decode's by at most 1.5 levels of 255 on average and
 * by at most 10 levels for 99% of values. Sharp edges can differ by more.
 */
const MEAN_TOLERANCE = 1.5;
const P99_TOLERANCE = 10;
const RESIZE = 256;
const CROP = 224;

function evalCrop(image: RgbImage): Uint8Array {
  return centerCrop(resizeShorterSide(image, RESIZE), CROP).data;
}

function differenceStats(a: Uint8Array, b: Uint8Array): { mean: number; p99: number } {
  const differences = new Uint16Array(a.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    differences[i] = Math.abs(a[i] - b[i]);
    sum += differences[i];
  }
  differences.sort();
  return { mean: sum / a.length, p99: differences[Math.floor(0.99 * (a.length - 1))] };
}

async function assertWithinTolerance(bytes: Uint8Array, expectedSize: [number, number]) {
  const full = await decodeImage(bytes);
  const reduced = await decodeImage(bytes, { minSide: RESIZE });
  assert.deepEqual([reduced.width, reduced.height], expectedSize);
  const { mean, p99 } = differenceStats(evalCrop(full), evalCrop(reduced));
  assert.ok(mean <= MEAN_TOLERANCE, `mean difference ${mean} > ${MEAN_TOLERANCE}`);
  assert.ok(p99 <= P99_TOLERANCE, `99th percentile difference ${p99} > ${P99_TOLERANCE}`);
  return { mean, p99 };
}

/** Returns a photo-like test image with smooth shading, fine stripes and hard-edged boxes. */
function texturedImage(width: number, height: number): RgbImage {
  return makeImage(width, height, (x, y) => {
    const shade = 128 + 60 * Math.sin(x / 97) * Math.cos(y / 71);
    const stripes = 25 * Math.sin(x / 23 + y / 31);
    const box = (Math.floor(x / 300) + Math.floor(y / 250)) % 2 === 0 ? 40 : -40;
    const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
    return [clamp(shade + stripes + box), clamp(shade - box), clamp(200 - shade / 2 + stripes)];
  });
}

Deno.test("jpegScaleDenominator", async (t) => {
  await t.step("picks the strongest reduction that keeps minSide", () => {
    assert.equal(jpegScaleDenominator(4000, 3000, 256), 8);
    assert.equal(jpegScaleDenominator(3000, 4000, 375), 8);
    assert.equal(jpegScaleDenominator(3000, 4000, 376), 4);
    assert.equal(jpegScaleDenominator(1800, 1200, 256), 4);
    assert.equal(jpegScaleDenominator(1800, 1200, 301), 2);
    assert.equal(jpegScaleDenominator(512, 384, 256), 1);
  });

  await t.step("rounds sides up as the decoder does", () => {
    // ceil(2049 / 8) = 257.
    assert.equal(jpegScaleDenominator(4000, 2049, 257), 8);
  });
});

Deno.test("decodeImage with minSide", async (t) => {
  await t.step("decodes a JPEG at reduced size", async () => {
    const bytes = await read("exif_orient_1.jpg");
    assert.deepEqual(await sizeOf(bytes, 256), [450, 300]);
    assert.deepEqual(await sizeOf(bytes, 300), [450, 300]);
    assert.deepEqual(await sizeOf(bytes, 301), [900, 600]);
    assert.deepEqual(await sizeOf(bytes, 601), [1800, 1200]);
  });

  await t.step("applies EXIF orientation after reducing", async () => {
    const upright = await decodeImage(await read("exif_orient_1.jpg"), { minSide: 256 });
    const rotated = await decodeImage(await read("exif_orient_6.jpg"), { minSide: 256 });
    assert.deepEqual([rotated.width, rotated.height], [upright.width, upright.height]);
    const { mean } = differenceStats(upright.data, rotated.data);
    // The two files are separate encodings of one scene.
    assert.ok(mean < 6, `orientation 6 differs from orientation 1 by ${mean} on average`);
  });

  await t.step("stays within tolerance of the full decode", async () => {
    await assertWithinTolerance(await read("exif_orient_1.jpg"), [450, 300]);
    await assertWithinTolerance(await read("exif_orient_6.jpg"), [450, 300]);
    const photo = encodeJpeg(texturedImage(2100, 2050), 90, exifBlock(8, false));
    await assertWithinTolerance(photo, [257, 263]);
    // Orientation 3 moves the partial last block column and row to the left and top.
    const rotated = encodeJpeg(texturedImage(1100, 1030), 90, exifBlock(3, true));
    await assertWithinTolerance(rotated, [275, 258]);
  });

  await t.step("decodes other formats at full size", async () => {
    const png = encodePng(makeImage(600, 600, (x, y) => [x % 256, y % 256, 0]));
    const image = await decodeImage(png, { minSide: 100 });
    assert.deepEqual([image.width, image.height], [600, 600]);
  });

  await t.step("rejects an invalid minSide", async () => {
    const bytes = await read("exif_orient_1.jpg");
    for (const minSide of [0, -5, 2.5, Number.NaN]) {
      await assert.rejects(() => decodeImage(bytes, { minSide }), RangeError);
    }
  });

  await t.step("passes minSide through DecoderPool", async () => {
    const pool = new DecoderPool({ size: 1 });
    try {
      const image = await pool.decode(await read("exif_orient_1.jpg"), { minSide: 256 });
      assert.deepEqual([image.width, image.height], [450, 300]);
    } finally {
      pool.close();
    }
  });
});

async function sizeOf(bytes: Uint8Array, minSide: number): Promise<[number, number]> {
  const image = await decodeImage(bytes, { minSide });
  return [image.width, image.height];
}
