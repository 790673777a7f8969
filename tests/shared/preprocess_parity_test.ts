/**
 * Compares the evaluation preprocessing with torchvision 0.14 + Pillow 9.4,
 * using reference outputs written by `scripts/preprocess_parity.py`.
 * Tolerance: 1/255 mean absolute difference in [0, 1] pixel units, measured
 * separately for the resize (synthetic images and a PNG, where both sides
 * start from identical pixels) and for JPEG decoding plus resize.
 */
import assert from "node:assert/strict";
import { decodeBase64 } from "./parity_helpers.ts";
import { decodeImage } from "../../shared/image/decode.ts";
import type { RgbImage } from "../../shared/image/types.ts";
import { centerCrop, preprocessForEval, resizeShorterSide } from "../../shared/preprocess.ts";

interface ParityCase {
  name: string;
  kind: "synthetic" | "png" | "jpeg";
  file?: string;
  width: number;
  height: number;
  outputMean: number[];
  outputSample: string;
  normalizedSample: number[];
  decodedMean?: number[];
  decodedSample?: string;
}

interface Expected {
  resize: number;
  crop: number;
  mean: [number, number, number];
  std: [number, number, number];
  stride: number;
  decodedStride: number;
  cases: ParityCase[];
}

const fixtureDir = new URL("../fixtures/preprocess_parity/", import.meta.url);
const expected: Expected = JSON.parse(
  await Deno.readTextFile(new URL("expected.json", fixtureDir)),
);

/** Mirrors `synthetic_pixels` in scripts/preprocess_parity.py. */
function syntheticImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const noise = ((x * x * 31 + y * y * 17 + x * y * 7 + c * 101) >> 3) & 255;
        const ramp = (Math.floor((255 * (x + y)) / (width + height - 2)) + c * 40) & 255;
        const useNoise = ((x >> 5) + (y >> 5)) % 2 === 0;
        data[(y * width + x) * 3 + c] = useNoise ? noise : ramp;
      }
    }
  }
  return { width, height, data };
}

async function loadInput(testCase: ParityCase): Promise<RgbImage> {
  if (testCase.kind === "synthetic") return syntheticImage(testCase.width, testCase.height);
  return await decodeImage(await Deno.readFile(new URL(testCase.file!, fixtureDir)));
}

/** Mean and maximum absolute difference between `ours` sampled every `stride` values and `reference`. */
function compareSampled(ours: Uint8Array, reference: Uint8Array, stride: number) {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < reference.length; i++) {
    const difference = Math.abs(ours[i * stride] - reference[i]);
    sum += difference;
    max = Math.max(max, difference);
  }
  return { mean: sum / reference.length, max };
}

for (const testCase of expected.cases) {
  Deno.test(`preprocess parity: ${testCase.name}`, async (t) => {
    const input = await loadInput(testCase);
    assert.equal(input.width, testCase.width);
    assert.equal(input.height, testCase.height);

    if (testCase.decodedSample !== undefined) {
      await t.step("JPEG decode matches Pillow within 1/255", () => {
        const decoded = compareSampled(
          input.data,
          decodeBase64(testCase.decodedSample!),
          expected.decodedStride,
        );
        assert.ok(decoded.mean < 1, `decode mean abs difference ${decoded.mean.toFixed(3)}/255`);
      });
    }

    const crop = centerCrop(resizeShorterSide(input, expected.resize), expected.crop);
    await t.step("resize and crop match torchvision within 1/255", () => {
      const output = compareSampled(
        crop.data,
        decodeBase64(testCase.outputSample),
        expected.stride,
      );
      assert.ok(output.mean < 1, `mean abs difference ${output.mean.toFixed(3)}/255`);
      if (testCase.kind !== "jpeg") {
        // Same input pixels: the resize reproduces Pillow's integer arithmetic exactly.
        assert.equal(output.max, 0, `max abs difference ${output.max}/255`);
      }
    });

    await t.step("normalized values match torchvision", () => {
      const config = { imgSize: expected.crop, mean: expected.mean, std: expected.std };
      const normalized = preprocessForEval(input, config);
      // One pixel level after normalization is 1 / (255 * std) < 0.018.
      const tolerance = testCase.kind === "jpeg" ? 8 / (255 * 0.224) : 1e-6;
      testCase.normalizedSample.forEach((value, i) => {
        const ours = normalized[i * expected.stride];
        assert.ok(
          Math.abs(ours - value) <= tolerance,
          `sample ${i}: ours ${ours}, torchvision ${value}`,
        );
      });
    });
  });
}
