/**
 * Runs every file of the shared hard-image collection (`../shared/fixtures/
 * hard-images`, outside this repository) through decodeImage and checks the
 * outcome that the collection's TSV describes. Skipped, with a warning, when
 * the collection is absent.
 */
import assert from "node:assert/strict";
import { decodeImage } from "../../../shared/image/decode.ts";
import { ImageDecodeError, type RgbImage } from "../../../shared/image/types.ts";
import { meanAbsoluteDifference } from "./helpers.ts";

const hardImagesDir = new URL("../../../../shared/fixtures/hard-images/", import.meta.url);
const available = await Deno.stat(hardImagesDir).then(() => true, () => false);
if (!available) {
  console.warn(`Skipping hard-image tests: ${hardImagesDir.pathname} not found.`);
}

type Expectation =
  | { image: [number, number] }
  | { error: string; format?: string }
  | { imageOrError: "invalid_image"; size: [number, number] };

/** Expected outcome per file name, with decodeImage's default 50-megapixel limit. */
const EXPECTED: Record<string, Expectation> = {
  "exif_orient_1.jpg": { image: [1800, 1200] },
  "exif_orient_3.jpg": { image: [1800, 1200] },
  "exif_orient_6.jpg": { image: [1800, 1200] },
  "exif_orient_8.jpg": { image: [1800, 1200] },
  "exif_portrait_orient_6.jpg": { image: [1200, 1800] },
  "jpeg_progressive.jpg": { image: [1920, 1080] },
  "jpeg_cmyk_adobe.jpg": { image: [1024, 576] },
  "jpeg_gray.jpg": { image: [400, 267] },
  "jpeg_truncated_half.jpg": { imageOrError: "invalid_image", size: [1800, 1200] },
  "jpeg_large_8000x6000.jpg": { image: [8000, 6000] },
  "png_palette_trns.png": { image: [32, 32] },
  "png_rgb16.png": { image: [32, 32] },
  "png_interlaced_rgba.png": { image: [32, 32] },
  "png_bomb_50000x50000.png": { error: "too_many_pixels", format: "png" },
  "png_bomb_valid_20000x20000.png": { error: "too_many_pixels", format: "png" },
  "gif_animated_loop3.gif": { image: [370, 285] },
  "webp_lossy.webp": { image: [1024, 772] },
  "heic_example.heic": { image: [1280, 854] },
  "tiff_uncompressed.tiff": { error: "unsupported_format", format: "tiff" },
  "bmp_24bit.bmp": { error: "unsupported_format", format: "bmp" },
  "svg_circle.svg": { error: "unsupported_format", format: "svg" },
  "empty_0byte.jpg": { error: "empty_image" },
  "text_renamed.jpg": { error: "unsupported_format" },
};

const decoded = new Map<string, RgbImage>();

async function decodeFixture(name: string): Promise<RgbImage> {
  if (!decoded.has(name)) {
    decoded.set(name, await decodeImage(await Deno.readFile(new URL(name, hardImagesDir))));
  }
  return decoded.get(name)!;
}

function channelMeans(image: RgbImage): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < image.data.length; i++) sums[i % 3] += image.data[i];
  return sums.map((sum) => sum / (image.width * image.height));
}

Deno.test({
  name: "hard images: every file has the expected outcome",
  ignore: !available,
  async fn(t) {
    const names = [...Deno.readDirSync(hardImagesDir)].map((entry) => entry.name).sort();
    for (const name of names) {
      await t.step(name, async () => {
        const expected = EXPECTED[name];
        assert.ok(expected, `${name} has no expected outcome in this test; add one`);
        let image: RgbImage | undefined;
        let failure: unknown;
        try {
          image = await decodeFixture(name);
        } catch (error) {
          failure = error;
        }
        if ("image" in expected) {
          assert.ok(image, `expected an image, got ${failure}`);
          assert.deepEqual([image.width, image.height], expected.image);
          assert.equal(image.data.length, image.width * image.height * 3);
        } else if ("error" in expected) {
          assert.ok(
            failure instanceof ImageDecodeError,
            `expected ImageDecodeError, got ${failure ?? "an image"}`,
          );
          assert.equal(failure.code, expected.error, failure.message);
          assert.equal(failure.format, expected.format);
        } else if (image) {
          assert.deepEqual([image.width, image.height], expected.size);
        } else {
          assert.ok(failure instanceof ImageDecodeError, `unexpected ${failure}`);
          assert.equal(failure.code, expected.imageOrError);
        }
      });
    }
  },
});

Deno.test({
  name: "hard images: orientations 3, 6 and 8 match orientation 1",
  ignore: !available,
  async fn() {
    const upright = await decodeFixture("exif_orient_1.jpg");
    // Each file is a separate JPEG encoding of the rotated scene, so allow re-encoding noise.
    for (
      const [name, tolerance] of [["exif_orient_3.jpg", 3], ["exif_orient_6.jpg", 5], [
        "exif_orient_8.jpg",
        5,
      ]] as const
    ) {
      const difference = meanAbsoluteDifference(await decodeFixture(name), upright);
      assert.ok(difference < tolerance, `${name}: mean abs difference ${difference.toFixed(2)}`);
    }
  },
});

Deno.test({
  name: "hard images: CMYK colours match the RGB encoding",
  ignore: !available,
  async fn() {
    // Both files were made from the same source photo.
    const cmyk = channelMeans(await decodeFixture("jpeg_cmyk_adobe.jpg"));
    const rgb = channelMeans(await decodeFixture("jpeg_progressive.jpg"));
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(cmyk[c] - rgb[c]) < 3, `channel ${c}: CMYK ${cmyk[c]}, RGB ${rgb[c]}`);
    }
  },
});

Deno.test({
  name: "hard images: grayscale JPEG has equal channels",
  ignore: !available,
  async fn() {
    const gray = await decodeFixture("jpeg_gray.jpg");
    for (let i = 0; i < gray.data.length; i += 3) {
      if (gray.data[i] !== gray.data[i + 1] || gray.data[i] !== gray.data[i + 2]) {
        assert.fail(`pixel ${i / 3} is not gray`);
      }
    }
  },
});

Deno.test({
  name: "hard images: large JPEG respects a lower limit",
  ignore: !available,
  async fn() {
    const bytes = await Deno.readFile(new URL("jpeg_large_8000x6000.jpg", hardImagesDir));
    await assert.rejects(decodeImage(bytes, { maxPixels: 40_000_000 }), (error: unknown) => {
      assert.ok(error instanceof ImageDecodeError);
      assert.equal(error.code, "too_many_pixels");
      return true;
    });
    decoded.clear();
  },
});
