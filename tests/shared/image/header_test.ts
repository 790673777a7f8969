import assert from "node:assert/strict";
import { readExifOrientation } from "../../../shared/image/exif.ts";
import { readImageHeader } from "../../../shared/image/header.ts";
import { ImageDecodeError } from "../../../shared/image/types.ts";
import { encodeJpeg, encodePng, exifBlock, makeImage } from "./helpers.ts";

const fixtures = new URL("../../fixtures/images/", import.meta.url);
const read = (name: string) => Deno.readFile(new URL(name, fixtures));

function assertDecodeError(fn: () => unknown, code: string, format?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ImageDecodeError, `expected ImageDecodeError, got ${error}`);
    assert.equal(error.code, code);
    assert.equal(error.format, format);
    return true;
  });
}

Deno.test("readImageHeader reads each format's size", async (t) => {
  const cases: [string, string, number, number, number][] = [
    ["exif_orient_1.jpg", "jpeg", 1800, 1200, 1],
    ["exif_orient_6.jpg", "jpeg", 1800, 1200, 6], // stored 1200x1800
    ["png_palette_trns.png", "png", 32, 32, 1],
    ["animated.gif", "gif", 48, 32, 1],
    ["lossy.webp", "webp", 64, 48, 1], // a bare VP8 chunk
    ["lossless_alpha.webp", "webp", 40, 30, 1], // VP8L
    ["animated.webp", "webp", 48, 32, 1], // VP8X canvas
    ["lossless_orient_6.webp", "webp", 30, 40, 6], // stored 40x30, EXIF chunk
    ["heic_header_60000x60000.heic", "heic", 60000, 60000, 1],
    ["jpeg_header_60000x60000.jpg", "jpeg", 60000, 60000, 1],
    ["gif_screen_65535x65535.gif", "gif", 65535, 65535, 1],
    ["webp_header_16384x16384.webp", "webp", 16384, 16384, 1],
    ["png_1bit_20000x20000.png", "png", 20000, 20000, 1],
  ];
  for (const [name, format, width, height, orientation] of cases) {
    await t.step(name, async () => {
      assert.deepEqual(readImageHeader(await read(name)), { format, width, height, orientation });
    });
  }
});

Deno.test("readImageHeader reads TIFF and BMP headers", () => {
  // Little-endian TIFF: IFD0 with ImageWidth (SHORT) 300, ImageLength (LONG) 200, Orientation 8.
  const tiff = new Uint8Array(8 + 2 + 3 * 12 + 4);
  const view = new DataView(tiff.buffer);
  tiff.set([0x49, 0x49, 0x2a, 0x00, 0x08, 0, 0, 0]);
  view.setUint16(8, 3, true);
  const entries: [number, number, number][] = [[256, 3, 300], [257, 4, 200], [274, 3, 8]];
  entries.forEach(([tag, type, value], i) => {
    const at = 10 + 12 * i;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, 1, true);
    if (type === 3) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
  });
  assert.deepEqual(readImageHeader(tiff), {
    format: "tiff",
    width: 200,
    height: 300,
    orientation: 8,
  });

  // BMP with BITMAPINFOHEADER, 320 wide, -180 high (top-down).
  const bmp = new Uint8Array(54);
  const bmpView = new DataView(bmp.buffer);
  bmp.set([0x42, 0x4d]);
  bmpView.setUint32(14, 40, true);
  bmpView.setInt32(18, 320, true);
  bmpView.setInt32(22, -180, true);
  assert.deepEqual(readImageHeader(bmp), {
    format: "bmp",
    width: 320,
    height: 180,
    orientation: 1,
  });
});

Deno.test("readImageHeader reads JPEG EXIF in both byte orders", () => {
  const image = makeImage(24, 16, () => [50, 100, 150]);
  for (const littleEndian of [true, false]) {
    const jpeg = encodeJpeg(image, 80, exifBlock(5, littleEndian));
    assert.deepEqual(readImageHeader(jpeg), {
      format: "jpeg",
      width: 16,
      height: 24,
      orientation: 5,
    });
  }
});

Deno.test("readImageHeader errors carry a code", () => {
  assertDecodeError(() => readImageHeader(new Uint8Array(0)), "empty_image");
  assertDecodeError(() => readImageHeader(new TextEncoder().encode("hello")), "unsupported_format");
  assertDecodeError(
    () => readImageHeader(new TextEncoder().encode("<svg></svg>")),
    "unsupported_format",
    "svg",
  );
  const png = encodePng(makeImage(4, 4, () => [0, 0, 0]));
  assertDecodeError(() => readImageHeader(png.subarray(0, 20)), "invalid_image", "png");
  const jpeg = encodeJpeg(makeImage(4, 4, () => [0, 0, 0]), 80);
  assertDecodeError(() => readImageHeader(jpeg.subarray(0, 30)), "invalid_image", "jpeg");
  assertDecodeError(
    () => readImageHeader(new TextEncoder().encode("GIF89a\x01")),
    "invalid_image",
    "gif",
  );
  assertDecodeError(
    () => readImageHeader(new TextEncoder().encode("RIFF\x04\0\0\0WEBP")),
    "invalid_image",
    "webp",
  );
});

Deno.test("readExifOrientation handles malformed blocks", () => {
  assert.equal(readExifOrientation(exifBlock(6, true)), 6);
  assert.equal(readExifOrientation(exifBlock(3, false)), 3);
  assert.equal(readExifOrientation(exifBlock(0, true)), 1, "0 is not a valid orientation");
  assert.equal(readExifOrientation(exifBlock(6, true).subarray(0, 24)), 1, "truncated IFD");
  assert.equal(readExifOrientation(new TextEncoder().encode("XX*\0")), 1, "unknown byte order");
  const wrongType = exifBlock(6, true);
  wrongType[24] = 4; // Orientation stored as LONG is invalid
  assert.equal(readExifOrientation(wrongType), 1);
});
