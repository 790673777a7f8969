/**
 * Conversions from decoder pixel layouts to 8-bit interleaved RGB, all with
 * integer arithmetic over typed arrays.
 *
 * @example
 * ```ts
 * import { rgbaToRgbOverWhite } from "./pixels.ts";
 * const halfRed = new Uint8Array([255, 0, 0, 128]);
 * console.log(rgbaToRgbOverWhite(halfRed, 1)); // Uint8Array [255, 127, 127]
 * ```
 * @module
 */

/**
 * Composites RGBA pixels over an opaque white background:
 * `out = round((c * a + 255 * (255 - a)) / 255)` for each channel `c`. Alpha is
 * taken as straight (not premultiplied), as PNG, GIF and WebP store it.
 */
export function rgbaToRgbOverWhite(rgba: ArrayLike<number>, pixelCount: number): Uint8Array {
  const out = new Uint8Array(pixelCount * 3);
  for (let i = 0, o = 0; i < pixelCount * 4; i += 4, o += 3) {
    const a = rgba[i + 3];
    if (a === 255) {
      out[o] = rgba[i];
      out[o + 1] = rgba[i + 1];
      out[o + 2] = rgba[i + 2];
    } else {
      const background = 255 * (255 - a);
      out[o] = divide255(rgba[i] * a + background);
      out[o + 1] = divide255(rgba[i + 1] * a + background);
      out[o + 2] = divide255(rgba[i + 2] * a + background);
    }
  }
  return out;
}

/** Repeats each gray sample three times. */
export function grayToRgb(gray: ArrayLike<number>, pixelCount: number): Uint8Array {
  const out = new Uint8Array(pixelCount * 3);
  for (let i = 0, o = 0; i < pixelCount; i++, o += 3) {
    const value = gray[i];
    out[o] = value;
    out[o + 1] = value;
    out[o + 2] = value;
  }
  return out;
}

/**
 * Converts CMYK ink amounts (0 = no ink) to RGB with
 * `R = round((255 - C) * (255 - K) / 255)` and likewise for G and B, the naive
 * conversion that Pillow and libjpeg-based viewers use when no ICC profile is
 * applied.
 */
export function cmykToRgb(cmyk: ArrayLike<number>, pixelCount: number): Uint8Array {
  const out = new Uint8Array(pixelCount * 3);
  for (let i = 0, o = 0; i < pixelCount * 4; i += 4, o += 3) {
    const white = 255 - cmyk[i + 3];
    out[o] = divide255((255 - cmyk[i]) * white);
    out[o + 1] = divide255((255 - cmyk[i + 1]) * white);
    out[o + 2] = divide255((255 - cmyk[i + 2]) * white);
  }
  return out;
}

/** Rounds `value / 255` to the nearest integer for 0 <= value <= 255 * 255; ties cannot occur. */
function divide255(value: number): number {
  return ((value + 128 + ((value + 128) >> 8)) >> 8);
}
