import assert from "node:assert/strict";
import { sampleCropBox } from "../../shared/image/random_resized_crop.ts";
import type { RgbImage } from "../../shared/image/types.ts";
import {
  augmentForTrain,
  centerCrop,
  downscaleForCache,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeToFloat32,
  preprocessForEval,
  resizeImage,
  resizeShorterSide,
  roundHalfEven,
} from "../../shared/preprocess.ts";
import { Rng } from "../../shared/random.ts";
import { makeImage, pixelAt } from "./image/helpers.ts";

const CONFIG = { imgSize: 32, mean: IMAGENET_MEAN, std: IMAGENET_STD };
const IDENTITY = {
  imgSize: 8,
  mean: [0, 0, 0] as [number, number, number],
  std: [1, 1, 1] as [number, number, number],
};

/** Builds a photo-like test image: smooth ramps plus a few edges. */
function testImage(width: number, height: number): RgbImage {
  return makeImage(width, height, (x, y) => [
    (x * 255 / (width - 1)) | 0,
    (y * 255 / (height - 1)) | 0,
    ((x >> 3) + (y >> 3)) % 2 === 0 ? 40 : 220,
  ]);
}

Deno.test("resizeImage keeps a constant image constant", () => {
  const gray = makeImage(37, 23, () => [90, 140, 230]);
  for (const [width, height] of [[10, 7], [37, 23], [80, 50], [1, 1], [37, 5]]) {
    const resized = resizeImage(gray, width, height);
    assert.equal(resized.width, width);
    assert.equal(resized.height, height);
    for (let i = 0; i < resized.data.length; i += 3) {
      assert.deepEqual(Array.from(resized.data.subarray(i, i + 3)), [90, 140, 230]);
    }
  }
});

Deno.test("resizeImage halves a ramp to pair averages", () => {
  // The antialiased tent filter is symmetric around each output pixel, so on a
  // linear ramp it returns the mean of the two source pixels it replaces.
  const ramp = makeImage(64, 2, (x) => [4 * x, 4 * x, 4 * x]);
  const half = resizeImage(ramp, 32, 2);
  for (let x = 1; x < 31; x++) {
    assert.equal(pixelAt(half, x, 0)[0], (4 * (2 * x) + 4 * (2 * x + 1)) / 2, `x=${x}`);
  }
});

Deno.test("resizeImage uses the antialiased tent weights", () => {
  // Halving: each output pixel weighs four inputs by 1/8, 3/8, 3/8, 1/8.
  const impulse = makeImage(16, 1, (x) => x === 8 ? [240, 240, 240] : [0, 0, 0]);
  const half = resizeImage(impulse, 8, 1);
  const row = Array.from({ length: 8 }, (_, x) => pixelAt(half, x, 0)[0]);
  assert.deepEqual(row, [0, 0, 0, 30, 90, 0, 0, 0]);
});

Deno.test("resizeShorterSide follows torchvision sizes", () => {
  const cases: [number, number, number, number, number][] = [
    [512, 384, 256, 341, 256],
    [384, 512, 256, 256, 341],
    [300, 500, 256, 256, 426],
    [200, 150, 256, 341, 256],
    [100, 100, 64, 64, 64],
  ];
  for (const [width, height, size, outWidth, outHeight] of cases) {
    const resized = resizeShorterSide(testImage(width, height), size);
    assert.deepEqual([resized.width, resized.height], [outWidth, outHeight], `${width}x${height}`);
  }
});

Deno.test("centerCrop rounds offsets half to even", () => {
  const coords = (width: number, height: number) => makeImage(width, height, (x, y) => [x, y, 0]);
  // (width - size) / 2 = 1.5 rounds to 2, 2.5 rounds to 2, 0.5 rounds to 0, 1 stays 1.
  const cases: [number, number, number, number, number][] = [
    [5, 5, 2, 2, 2],
    [7, 6, 2, 2, 2],
    [4, 3, 3, 0, 0],
    [6, 9, 4, 1, 2],
  ];
  for (const [width, height, size, left, top] of cases) {
    const crop = centerCrop(coords(width, height), size);
    assert.deepEqual([crop.width, crop.height], [size, size]);
    assert.deepEqual(
      pixelAt(crop, 0, 0).slice(0, 2),
      [left, top],
      `${width}x${height} crop ${size}`,
    );
  }
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(-0.5), 0);
  assert.throws(() => centerCrop(coords(4, 4), 5), /resize it first/);
});

Deno.test("normalizeToFloat32 scales, normalizes and keeps HWC order", () => {
  const image = makeImage(2, 1, (x) => x === 0 ? [0, 128, 255] : [255, 0, 51]);
  const out = normalizeToFloat32(image, CONFIG);
  assert.equal(out.length, 6);
  const expected = [0, 128, 255, 255, 0, 51].map((v, i) =>
    (v / 255 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]
  );
  expected.forEach((value, i) => assert.ok(Math.abs(out[i] - value) < 1e-6, `index ${i}`));
  const raw = normalizeToFloat32(image, IDENTITY);
  assert.ok(Math.abs(raw[1] - 128 / 255) < 1e-7);
});

Deno.test("preprocessForEval resizes, crops and normalizes", () => {
  const image = testImage(120, 90);
  const out = preprocessForEval(image, { ...IDENTITY, imgSize: 28 });
  assert.equal(out.length, 28 * 28 * 3);
  // Default ratio 0.875: shorter side round(28 / 0.875) = 32.
  const manual = centerCrop(resizeShorterSide(image, 32), 28);
  manual.data.forEach((value, i) => assert.ok(Math.abs(out[i] - value / 255) < 1e-6));
  const wider = preprocessForEval(image, { ...IDENTITY, imgSize: 28, resizeRatio: 0.5 });
  const viaRatio = centerCrop(resizeShorterSide(image, 56), 28);
  viaRatio.data.forEach((value, i) => assert.ok(Math.abs(wider[i] - value / 255) < 1e-6));
});

Deno.test("augmentForTrain is deterministic for a seed", () => {
  const image = testImage(96, 64);
  const first = augmentForTrain(image, new Rng(11), CONFIG);
  const again = augmentForTrain(image, new Rng(11), CONFIG);
  const other = augmentForTrain(image, new Rng(12), CONFIG);
  assert.equal(first.length, 32 * 32 * 3);
  assert.deepEqual(first, again);
  assert.notDeepEqual(first, other);

  const rng = new Rng(11);
  augmentForTrain(image, rng, CONFIG);
  const resumed = augmentForTrain(image, Rng.fromState(rng.state()), CONFIG);
  assert.deepEqual(resumed, augmentForTrain(image, rng, CONFIG));
});

Deno.test("augmentForTrain adds color jitter and blur after the crop draws", () => {
  const image = testImage(96, 64);
  const plain = augmentForTrain(image, new Rng(5), CONFIG);
  const off = augmentForTrain(image, new Rng(5), CONFIG, { colorJitter: 0, blur: 0 });
  assert.deepEqual(off, plain, "0 turns both off without extra draws");

  const options = { colorJitter: 0.4, blur: 1 };
  const jittered = augmentForTrain(image, new Rng(5), CONFIG, options);
  assert.notDeepEqual(jittered, plain);
  assert.deepEqual(augmentForTrain(image, new Rng(5), CONFIG, options), jittered);
});

Deno.test("augmentForTrain flip mirrors the same crop", () => {
  const image = testImage(96, 64);
  for (const seed of [1, 2, 3]) {
    const plain = augmentForTrain(image, new Rng(seed), CONFIG, { hflip: 0 });
    const flipped = augmentForTrain(image, new Rng(seed), CONFIG, { hflip: 1 });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        for (let c = 0; c < 3; c++) {
          assert.equal(flipped[(y * 32 + x) * 3 + c], plain[(y * 32 + 31 - x) * 3 + c]);
        }
      }
    }
  }
});

Deno.test("augmentForTrain with full scale and matching ratio resizes the whole image", () => {
  const image = testImage(64, 48); // aspect ratio 4/3
  const out = augmentForTrain(image, new Rng(5), IDENTITY, {
    scale: [1, 1],
    ratio: [4 / 3, 4 / 3],
    hflip: 0,
  });
  const whole = resizeImage(image, 8, 8);
  whole.data.forEach((value, i) => assert.ok(Math.abs(out[i] - value / 255) < 1e-6));
});

Deno.test("sampleCropBox follows torchvision's sampling", () => {
  const ranges = {
    scale: [0.08, 1] as [number, number],
    ratio: [3 / 4, 4 / 3] as [number, number],
  };
  const rng = new Rng(3);
  for (let i = 0; i < 500; i++) {
    const box = sampleCropBox(512, 384, rng, ranges);
    assert.ok(box.x >= 0, `x ${box.x}`);
    assert.ok(box.y >= 0, `y ${box.y}`);
    assert.ok(box.x + box.width <= 512, `right edge ${box.x + box.width}`);
    assert.ok(box.y + box.height <= 384, `bottom edge ${box.y + box.height}`);
    const area = (box.width * box.height) / (512 * 384);
    // Rounding the sides to whole pixels moves the area fraction slightly past the range.
    assert.ok(area > 0.07, `area fraction ${area}`);
    assert.ok(area <= 1.01, `area fraction ${area}`);
  }
  // No draw fits a 100x10 strip, so the fallback crops the center at ratio 4/3.
  const strip = sampleCropBox(100, 10, new Rng(9), { scale: [0.9, 1], ratio: [3 / 4, 4 / 3] });
  assert.deepEqual(strip, { x: 43, y: 0, width: 13, height: 10 });
});

Deno.test("downscaleForCache never upscales and keeps the aspect ratio", () => {
  const small = testImage(100, 80);
  assert.equal(downscaleForCache(small, 80), small);
  assert.equal(downscaleForCache(small, 200), small);
  const large = testImage(512, 384);
  const cached = downscaleForCache(large, 128);
  assert.deepEqual([cached.width, cached.height], [170, 128]);
  assert.deepEqual(cached.data, resizeShorterSide(large, 128).data);
});

Deno.test("invalid arguments raise errors naming the value", () => {
  const image = testImage(16, 16);
  assert.throws(() => resizeImage(image, 0, 5), /width must be a positive integer/);
  assert.throws(() => resizeShorterSide(image, 2.5), /size must be a positive integer/);
  assert.throws(
    () => resizeImage({ width: 4, height: 4, data: new Uint8Array(10) }, 2, 2),
    /Expected 48 bytes/,
  );
  assert.throws(
    () => preprocessForEval(image, { ...CONFIG, std: [1, 0, 1] }),
    /std must not contain 0/,
  );
  assert.throws(() => preprocessForEval(image, { ...CONFIG, resizeRatio: 1.5 }), /resizeRatio/);
  assert.throws(() => augmentForTrain(image, new Rng(1), CONFIG, { hflip: 2 }), /hflip/);
  assert.throws(() => augmentForTrain(image, new Rng(1), CONFIG, { scale: [0.5, 0.1] }), /scale/);
  assert.throws(() => augmentForTrain(image, new Rng(1), CONFIG, { ratio: [0, 1] }), /ratio/);
  assert.throws(() => downscaleForCache(image, -1), /minSide/);
});
