import assert from "node:assert/strict";
import { decodeImage } from "../../../shared/image/decode.ts";
import { ImageDecodeError, type RgbImage, SUPPORTED_FORMATS } from "../../../shared/image/types.ts";
import {
  encodeGrayPng,
  encodeInterlacedPng,
  encodePng,
  encodeRgb16Png,
  encodeRgbaPng,
  makeImage,
  pixelAt,
} from "./helpers.ts";

const fixtures = new URL("../../fixtures/images/", import.meta.url);
const read = (name: string) => Deno.readFile(new URL(name, fixtures));
const WHITE = [255, 255, 255];
const RED = [255, 0, 0];

async function assertRejects(
  bytes: Uint8Array,
  code: string,
  format: string | undefined,
  maxPixels?: number,
): Promise<ImageDecodeError> {
  let caught: unknown;
  try {
    await decodeImage(bytes, maxPixels === undefined ? {} : { maxPixels });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ImageDecodeError, `expected ImageDecodeError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.format, format);
  return caught;
}

function countColor(image: RgbImage, rgb: number[]): number {
  let count = 0;
  for (let i = 0; i < image.data.length; i += 3) {
    if (image.data[i] === rgb[0] && image.data[i + 1] === rgb[1] && image.data[i + 2] === rgb[2]) {
      count++;
    }
  }
  return count;
}

Deno.test("SUPPORTED_FORMATS lists the decodable formats", () => {
  assert.deepEqual([...SUPPORTED_FORMATS], ["jpeg", "png", "gif", "webp", "heic"]);
});

Deno.test("PNG alpha is composited over white", async () => {
  const alphas = [255, 128, 1, 0];
  const rgba = new Uint8Array(alphas.flatMap((a) => [200, 100, 50, a]));
  const image = await decodeImage(encodeRgbaPng(4, 1, rgba));
  alphas.forEach((a, x) => {
    const expected = [200, 100, 50].map((c) => Math.round(c * (a / 255) + 255 * (1 - a / 255)));
    assert.deepEqual(pixelAt(image, x, 0), expected, `alpha ${a}`);
  });
});

Deno.test("PNG gray, 16-bit and interlaced decode to RGB", async (t) => {
  await t.step("gray expands to equal channels", async () => {
    const image = await decodeImage(encodeGrayPng(3, 1, new Uint8Array([0, 77, 255])));
    assert.deepEqual(Array.from(image.data), [0, 0, 0, 77, 77, 77, 255, 255, 255]);
  });
  await t.step("16-bit samples scale to 8 bits within one level", async () => {
    const samples = new Uint16Array([0, 0x1234, 0xffff, 0x8000, 0xff00, 0x00ff]);
    const image = await decodeImage(encodeRgb16Png(2, 1, samples));
    samples.forEach((value, i) => {
      assert.ok(Math.abs(image.data[i] - value / 257) <= 1, `sample ${value}: ${image.data[i]}`);
    });
  });
  await t.step("Adam7 interlaced equals the plain encoding", async () => {
    const pattern = makeImage(13, 11, (x, y) => [x * 19, y * 23, (x * y) % 256]);
    const interlaced = await decodeImage(encodeInterlacedPng(pattern));
    assert.deepEqual(interlaced.data, pattern.data);
  });
  await t.step("palette with tRNS has no transparent black left", async () => {
    const image = await decodeImage(await read("png_palette_trns.png"));
    assert.equal(image.width, 32);
    assert.ok(countColor(image, WHITE) > 0, "transparent pixels become white");
  });
});

Deno.test("GIF decodes only the first frame over white", async () => {
  const image = await decodeImage(await read("animated.gif"));
  assert.equal(image.width, 48);
  assert.equal(image.height, 32);
  assert.deepEqual(pixelAt(image, 5, 5), RED, "frame 1, left half");
  assert.deepEqual(pixelAt(image, 30, 10), WHITE, "frame 1, transparent half");
  assert.deepEqual(pixelAt(image, 1, 1), WHITE, "outside frame 1");
  assert.equal(countColor(image, [0, 0, 255]), 0, "no pixel of frame 2");
  assert.equal(countColor(image, RED), 20 * 24);
});

Deno.test("WebP lossy, lossless, animated and oriented", async (t) => {
  await t.step("lossy keeps the gradient", async () => {
    const image = await decodeImage(await read("lossy.webp"));
    assert.equal(image.width, 64);
    assert.equal(image.height, 48);
    const [r, g, b] = pixelAt(image, 63, 0);
    assert.ok(r > 235, `top-right red ${r}`);
    assert.ok(g < 20, `top-right green ${g}`);
    assert.ok(Math.abs(b - 128) < 12, `top-right blue ${b}`);
  });
  await t.step("lossless alpha is exact over white", async () => {
    const image = await decodeImage(await read("lossless_alpha.webp"));
    assert.equal(countColor(image, RED), 20 * 30);
    assert.equal(countColor(image, WHITE), 20 * 30);
    assert.deepEqual(pixelAt(image, 0, 0), RED);
  });
  await t.step("animated decodes the first frame at its offset", async () => {
    const image = await decodeImage(await read("animated.webp"));
    assert.equal(image.width, 48);
    assert.deepEqual(pixelAt(image, 5, 5), RED);
    assert.deepEqual(pixelAt(image, 30, 10), WHITE);
    assert.deepEqual(pixelAt(image, 1, 1), WHITE);
    assert.equal(countColor(image, RED), 20 * 24);
  });
  await t.step("EXIF orientation 6 rotates clockwise", async () => {
    const image = await decodeImage(await read("lossless_orient_6.webp"));
    assert.equal(image.width, 30);
    assert.equal(image.height, 40);
    assert.deepEqual(pixelAt(image, 15, 5), RED, "the stored left half is now on top");
    assert.deepEqual(pixelAt(image, 15, 35), WHITE);
  });
});

Deno.test("header bombs of every format are rejected before decoding", async (t) => {
  const cases: [string, string][] = [
    ["png_header_50000x50000.png", "png"],
    ["png_1bit_20000x20000.png", "png"],
    ["jpeg_header_60000x60000.jpg", "jpeg"],
    ["gif_screen_65535x65535.gif", "gif"],
    ["webp_header_16384x16384.webp", "webp"],
    ["heic_header_60000x60000.heic", "heic"],
  ];
  for (const [name, format] of cases) {
    await t.step(name, async () => {
      const rssBefore = Deno.memoryUsage().rss;
      const error = await assertRejects(await read(name), "too_many_pixels", format);
      assert.match(error.message, /more than the limit of 50000000/);
      const grown = Deno.memoryUsage().rss - rssBefore;
      assert.ok(grown < 100 * 2 ** 20, `memory grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
    });
  }
});

Deno.test("maxPixels is inclusive and validated", async () => {
  const bytes = encodePng(makeImage(128, 96, () => [9, 9, 9]));
  assert.equal((await decodeImage(bytes, { maxPixels: 128 * 96 })).width, 128);
  await assertRejects(bytes, "too_many_pixels", "png", 128 * 96 - 1);
  for (const maxPixels of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(decodeImage(bytes, { maxPixels }), RangeError);
  }
});

Deno.test("decodeImage rejects bytes that are not a Uint8Array", async () => {
  const buffer = encodePng(makeImage(2, 2, () => [0, 0, 0])).buffer;
  await assert.rejects(decodeImage(buffer as unknown as Uint8Array), /new Uint8Array\(buffer\)/);
});

Deno.test("truncated files give an error code or an image", async (t) => {
  for (const name of ["truncated.jpg", "truncated.png", "truncated.webp", "truncated.gif"]) {
    await t.step(name, async () => {
      try {
        const image = await decodeImage(await read(name));
        assert.equal(image.data.length, image.width * image.height * 3);
      } catch (error) {
        assert.ok(error instanceof ImageDecodeError, `unexpected ${error}`);
        assert.equal(error.code, "invalid_image");
      }
    });
  }
});

Deno.test("non-images and unsupported formats are rejected with codes", async () => {
  await assertRejects(new Uint8Array(0), "empty_image", undefined);
  const text = await assertRejects(
    new TextEncoder().encode("This is plain text named photo.jpg"),
    "unsupported_format",
    undefined,
  );
  assert.match(text.message, /JPEG, PNG, GIF, WebP, HEIC/);
  const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>');
  await assertRejects(svg, "unsupported_format", "svg");
  await assertRejects(
    new TextEncoder().encode("II*\0\x08\0\0\0\0\0"),
    "unsupported_format",
    "tiff",
  );
  const bmp = new Uint8Array(54);
  bmp.set([0x42, 0x4d]);
  bmp[14] = 40;
  const error = await assertRejects(bmp, "unsupported_format", "bmp");
  assert.match(error.message, /Send the photo as JPEG or PNG/);
});

Deno.test("corrupt data of a recognized format is invalid_image", async () => {
  const png = encodePng(makeImage(8, 8, () => [1, 2, 3]));
  png[png.length - 20] ^= 0xff; // inside IDAT: the CRC no longer matches
  await assertRejects(png, "invalid_image", "png");
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xda]);
  await assertRejects(jpeg, "invalid_image", "jpeg");
});

Deno.test("committed EXIF photo decodes upright", async () => {
  const upright = await decodeImage(await read("exif_orient_1.jpg"));
  const rotated = await decodeImage(await read("exif_orient_6.jpg"));
  assert.equal(rotated.width, 1800);
  assert.equal(rotated.height, 1200);
  let sum = 0;
  for (let i = 0; i < upright.data.length; i++) sum += Math.abs(upright.data[i] - rotated.data[i]);
  const mean = sum / upright.data.length;
  assert.ok(mean < 5, `mean abs difference ${mean.toFixed(2)} levels`);
});
