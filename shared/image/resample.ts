/**
 * Antialiased bilinear resampling that reproduces Pillow's
 * `Image.resize(size, Image.BILINEAR)` bit for bit (Pillow's
 * `libImaging/Resample.c`, compared with Pillow 9.4 through the references
 * that `scripts/preprocess_parity.py` writes). torchvision's `Resize` on PIL
 * images calls that method, so a model trained with torchvision gets the
 * same input pixels.
 *
 * The filter is the triangle (tent) kernel with support 1, widened by the
 * scale factor when reducing, so every source pixel contributes (this is the
 * antialiasing). Weights are normalized per output pixel, converted to
 * fixed point with 22 fractional bits, and each pass rounds to 8 bits:
 * first horizontal over the rows the vertical pass needs, then vertical.
 *
 * @example
 * ```ts
 * import { resample } from "./resample.ts";
 * const image = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 3).fill(200) };
 * const half = resample(image, { x: 0, y: 0, width: 4, height: 2 }, 2, 1);
 * console.log(half.data); // all 200
 * ```
 * @module
 */
import type { RgbImage } from "./types.ts";

/** A rectangle of whole pixels inside an image. */
export interface PixelRegion {
  /** Left column. */
  x: number;
  /** Top row. */
  y: number;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Per-output-pixel filter taps along one axis. */
interface AxisCoefficients {
  /** For output i: first input index at `2i`, number of taps at `2i + 1`. */
  bounds: Int32Array;
  /** Fixed-point weights, `taps` per output pixel. */
  weights: Int32Array;
  /** Maximum number of taps per output pixel. */
  taps: number;
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const BILINEAR_SUPPORT = 1;

/**
 * Resizes `region` of `image` to `outWidth` x `outHeight`, as Pillow's
 * `image.crop(region).resize((outWidth, outHeight), BILINEAR)` does. The
 * region must lie inside the image and the output size must be positive;
 * callers validate both.
 */
export function resample(
  image: RgbImage,
  region: PixelRegion,
  outWidth: number,
  outHeight: number,
): RgbImage {
  const horizontal = axisCoefficients(region.width, outWidth);
  const vertical = axisCoefficients(region.height, outHeight);
  const needHorizontal = outWidth !== region.width;
  const needVertical = outHeight !== region.height;

  // Rows of the region that the vertical pass reads.
  const firstRow = needVertical ? vertical.bounds[0] : 0;
  const lastRow = needVertical
    ? vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1]
    : outHeight;
  const rows = {
    x: region.x,
    y: region.y + firstRow,
    width: region.width,
    height: lastRow - firstRow,
  };

  const temp = needHorizontal
    ? resampleRows(image, rows, horizontal, outWidth)
    : copyRegion(image, rows);
  if (!needVertical) return temp;
  return resampleColumns(temp, vertical, firstRow, outHeight);
}

/** A rectangle inside an image whose edges may fall between pixel centers. */
export interface FractionalBox {
  /** Left edge in pixels, 0 or more. */
  x: number;
  /** Top edge in pixels, 0 or more. */
  y: number;
  /** Width in pixels, at least 1. */
  width: number;
  /** Height in pixels, at least 1. */
  height: number;
}

/**
 * Resizes the part of `image` inside `box` to `outWidth` x `outHeight`, as
 * Pillow's `image.resize((outWidth, outHeight), BILINEAR, box=box)` does for
 * a box with fractional edges. The filter reads whole pixels of `image` and
 * stops at its borders. Callers validate the box and the output size.
 */
export function resampleBox(
  image: RgbImage,
  box: FractionalBox,
  outWidth: number,
  outHeight: number,
): RgbImage {
  const horizontal = axisCoefficients(image.width, outWidth, box.x, box.width);
  const vertical = axisCoefficients(image.height, outHeight, box.y, box.height);
  const firstRow = vertical.bounds[0];
  const lastRow = vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1];
  const rows = { x: 0, y: firstRow, width: image.width, height: lastRow - firstRow };
  const temp = resampleRows(image, rows, horizontal, outWidth);
  return resampleColumns(temp, vertical, firstRow, outHeight);
}

/**
 * Computes Pillow's `precompute_coeffs` for the bilinear filter, then
 * `normalize_coeffs_8bpc`. The output spans `extent` input pixels from
 * `start`, and taps are clipped to the `inSize` pixels that exist.
 */
function axisCoefficients(
  inSize: number,
  outSize: number,
  start = 0,
  extent = inSize,
): AxisCoefficients {
  const scale = extent / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BILINEAR_SUPPORT * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * taps);
  const raw = new Float64Array(taps);
  // Pillow multiplies by the reciprocal; dividing instead can change the last bit.
  const inverseScale = 1 / filterScale;

  for (let i = 0; i < outSize; i++) {
    const center = start + (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; Math.trunc matches it.
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - first;
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const w = bilinear((k + first - center + 0.5) * inverseScale);
      raw[k] = w;
      sum += w;
    }
    for (let k = 0; k < count; k++) {
      const normalized = sum !== 0 ? raw[k] / sum : raw[k];
      const scaled = normalized * (1 << PRECISION_BITS);
      weights[i * taps + k] = normalized < 0 ? Math.trunc(scaled - 0.5) : Math.trunc(scaled + 0.5);
    }
    bounds[2 * i] = first;
    bounds[2 * i + 1] = count;
  }
  return { bounds, weights, taps };
}

function bilinear(x: number): number {
  const distance = Math.abs(x);
  return distance < 1 ? 1 - distance : 0;
}

/** Rounds a fixed-point sum to 8 bits and clamps it, as Pillow's `clip8`. */
function clip8(sum: number): number {
  const value = sum >> PRECISION_BITS;
  if (value < 0) return 0;
  if (value > 255) return 255;
  return value;
}

function resampleRows(
  image: RgbImage,
  rows: PixelRegion,
  coefficients: AxisCoefficients,
  outWidth: number,
): RgbImage {
  const { bounds, weights, taps } = coefficients;
  const source = image.data;
  const out = new Uint8Array(outWidth * rows.height * 3);
  let o = 0;
  for (let y = 0; y < rows.height; y++) {
    const rowStart = ((rows.y + y) * image.width + rows.x) * 3;
    for (let x = 0; x < outWidth; x++) {
      const first = bounds[2 * x];
      const count = bounds[2 * x + 1];
      const w0 = x * taps;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let s = rowStart + first * 3;
      for (let k = 0; k < count; k++, s += 3) {
        const w = weights[w0 + k];
        r += source[s] * w;
        g += source[s + 1] * w;
        b += source[s + 2] * w;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return { width: outWidth, height: rows.height, data: out };
}

/** Vertical pass; `firstRow` is the region row that `temp`'s row 0 holds. */
function resampleColumns(
  temp: RgbImage,
  coefficients: AxisCoefficients,
  firstRow: number,
  outHeight: number,
): RgbImage {
  const { bounds, weights, taps } = coefficients;
  const source = temp.data;
  const stride = temp.width * 3;
  const out = new Uint8Array(temp.width * outHeight * 3);
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const first = bounds[2 * y] - firstRow;
    const count = bounds[2 * y + 1];
    const w0 = y * taps;
    for (let x = 0; x < temp.width; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let s = first * stride + x * 3;
      for (let k = 0; k < count; k++, s += stride) {
        const w = weights[w0 + k];
        r += source[s] * w;
        g += source[s + 1] * w;
        b += source[s + 2] * w;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return { width: temp.width, height: outHeight, data: out };
}

/** Copies a region into a new image. */
export function copyRegion(image: RgbImage, region: PixelRegion): RgbImage {
  const out = new Uint8Array(region.width * region.height * 3);
  const rowBytes = region.width * 3;
  for (let y = 0; y < region.height; y++) {
    const start = ((region.y + y) * image.width + region.x) * 3;
    out.set(image.data.subarray(start, start + rowBytes), y * rowBytes);
  }
  return { width: region.width, height: region.height, data: out };
}
