/**
 * Builders for test images: PNG files (plain, Adam7-interlaced, with an
 * `eXIf` chunk), JPEG files with an APP1 Exif segment, and EXIF blocks in
 * either byte order.
 * @module
 */
import jpegJs from "jpeg-js";
import { buildPng, ihdr, pngChunk } from "../../../scripts/fixtures/encode.ts";
import type { RgbImage } from "../../../shared/image/types.ts";

/** Returns an image whose pixel (x, y) is `color(x, y)`. */
export function makeImage(
  width: number,
  height: number,
  color: (x: number, y: number) => [number, number, number],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(color(x, y), (y * width + x) * 3);
  }
  return { width, height, data };
}

/** Returns pixel (x, y) as [R, G, B]. */
export function pixelAt(image: RgbImage, x: number, y: number): number[] {
  const i = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(i, i + 3));
}

/** Mean absolute difference per byte between two equally sized images. */
export function meanAbsoluteDifference(a: RgbImage, b: RgbImage): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

/** Builds a TIFF-structured EXIF block: IFD0 with a Make entry, then Orientation. */
export function exifBlock(orientation: number, littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(8 + 2 + 2 * 12 + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d]);
  view.setUint16(2, 42, littleEndian);
  view.setUint32(4, 8, littleEndian);
  view.setUint16(8, 2, littleEndian); // two entries
  // Make (0x010F), ASCII, count 4, value "abc\0" inline.
  view.setUint16(10, 0x010f, littleEndian);
  view.setUint16(12, 2, littleEndian);
  view.setUint32(14, 4, littleEndian);
  bytes.set([0x61, 0x62, 0x63, 0x00], 18);
  // Orientation (0x0112), SHORT, count 1.
  view.setUint16(22, 0x0112, littleEndian);
  view.setUint16(24, 3, littleEndian);
  view.setUint32(26, 1, littleEndian);
  view.setUint16(30, orientation, littleEndian);
  return bytes;
}

/** Encodes an RGB image as an 8-bit RGB PNG, optionally with an `eXIf` chunk. */
export function encodePng(image: RgbImage, exif?: Uint8Array): Uint8Array {
  const extra = exif === undefined ? [] : [pngChunk("eXIf", exif)];
  return buildPng(ihdr(image.width, image.height, 8, 2), scanlines(image), extra);
}

/** Encodes an RGBA image (4 bytes per pixel) as an 8-bit RGBA PNG. */
export function encodeRgbaPng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const rows = new Uint8Array(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    rows.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (1 + width * 4) + 1);
  }
  return buildPng(ihdr(width, height, 8, 6), rows);
}

/** Encodes an RGB image as an Adam7-interlaced 8-bit RGB PNG (filter type 0 on every row). */
export function encodeInterlacedPng(image: RgbImage): Uint8Array {
  // Adam7 passes: start x, start y, step x, step y.
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [
    1,
    0,
    2,
    2,
  ], [
    0,
    1,
    1,
    2,
  ]];
  const parts: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < image.height; y += dy) {
      if (x0 >= image.width) break;
      parts.push(0);
      for (let x = x0; x < image.width; x += dx) parts.push(...pixelAt(image, x, y));
    }
  }
  const header = ihdr(image.width, image.height, 8, 2);
  header[12] = 1; // interlace method: Adam7
  return buildPng(header, new Uint8Array(parts));
}

/** Encodes an RGB image as JPEG and inserts an APP1 Exif segment right after SOI. */
export function encodeJpeg(image: RgbImage, quality: number, exif?: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    rgba.set(image.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  const jpeg = new Uint8Array(
    jpegJs.encode({ data: rgba, width: image.width, height: image.height }, quality).data,
  );
  if (exif === undefined) return jpeg;
  const segmentLength = 2 + 6 + exif.length;
  const app1 = new Uint8Array(2 + segmentLength);
  app1.set([0xff, 0xe1, segmentLength >> 8, segmentLength & 0xff, 0x45, 0x78, 0x69, 0x66, 0, 0]);
  app1.set(exif, 10);
  const out = new Uint8Array(jpeg.length + app1.length);
  out.set(jpeg.subarray(0, 2));
  out.set(app1, 2);
  out.set(jpeg.subarray(2), 2 + app1.length);
  return out;
}

/** Encodes one byte per pixel as an 8-bit gray PNG. */
export function encodeGrayPng(width: number, height: number, gray: Uint8Array): Uint8Array {
  const rows = new Uint8Array(height * (1 + width));
  for (let y = 0; y < height; y++) {
    rows.set(gray.subarray(y * width, (y + 1) * width), y * (1 + width) + 1);
  }
  return buildPng(ihdr(width, height, 8, 0), rows);
}

/** Encodes 16-bit RGB samples (big-endian in the file) as a PNG. */
export function encodeRgb16Png(width: number, height: number, samples: Uint16Array): Uint8Array {
  const rows = new Uint8Array(height * (1 + width * 6));
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * 3; i++) {
      const value = samples[y * width * 3 + i];
      const at = y * (1 + width * 6) + 1 + i * 2;
      rows[at] = value >> 8;
      rows[at + 1] = value & 0xff;
    }
  }
  return buildPng(ihdr(width, height, 16, 2), rows);
}

function scanlines(image: RgbImage): Uint8Array {
  const rowBytes = image.width * 3;
  const rows = new Uint8Array(image.height * (1 + rowBytes));
  for (let y = 0; y < image.height; y++) {
    rows.set(image.data.subarray(y * rowBytes, (y + 1) * rowBytes), y * (1 + rowBytes) + 1);
  }
  return rows;
}
