/**
 * Random brightness, contrast and saturation changes on 8-bit RGB images, as
 * torchvision 0.14's `ColorJitter(brightness=s, contrast=s, saturation=s)`
 * makes them on PIL images. Each factor is drawn uniformly from
 * `[max(0, 1 - s), 1 + s]`, and the three changes run in a random order.
 * Each result is clipped to 0..255 and truncated to an integer, as Pillow's
 * `Image.blend` (under `ImageEnhance`) stores it. Hue is not changed.
 *
 * Caveat: torchvision draws from torch's generator, so the factors for a
 * seed are not torch's; the distribution is the same.
 *
 * @example
 * ```ts
 * import { Rng } from "../random.ts";
 * import { colorJitter } from "./color_jitter.ts";
 * const image = { width: 1, height: 1, data: new Uint8Array([200, 100, 50]) };
 * const jittered = colorJitter(image, new Rng(3), 0.4);
 * console.log(jittered.data.length); // 3
 * ```
 * @module
 */
import type { UniformSource } from "./random_resized_crop.ts";
import type { RgbImage } from "./types.ts";

type Change = "brightness" | "contrast" | "saturation";
const CHANGES: Change[] = ["brightness", "contrast", "saturation"];

/** Pillow's luma ("L" mode) of one pixel, rounded as `Image.convert("L")` rounds. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

function clipByte(value: number): number {
  if (value <= 0) return 0;
  if (value >= 255) return 255;
  return Math.trunc(value);
}

/** `ImageEnhance` blend: `degenerate + factor * (pixel - degenerate)`, per channel. */
function blend(data: Uint8Array, factor: number, degenerate: (offset: number) => number): void {
  // Pillow computes in C float (float32) arithmetic.
  const alpha = Math.fround(factor);
  for (let i = 0; i < data.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const base = degenerate(i);
      data[i + c] = clipByte(Math.fround(base + Math.fround(alpha * (data[i + c] - base))));
    }
  }
}

function meanLuma(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 3) sum += luma(data[i], data[i + 1], data[i + 2]);
  return Math.trunc(sum / (data.length / 3) + 0.5);
}

function applyChange(data: Uint8Array, change: Change, factor: number): void {
  if (change === "brightness") {
    blend(data, factor, () => 0);
  } else if (change === "contrast") {
    const mean = meanLuma(data);
    blend(data, factor, () => mean);
  } else {
    const gray = new Uint8Array(data.length / 3);
    for (let i = 0, p = 0; i < data.length; i += 3, p++) {
      gray[p] = luma(data[i], data[i + 1], data[i + 2]);
    }
    blend(data, factor, (offset) => gray[offset / 3]);
  }
}

/** Draws a random order of the three changes (a Fisher-Yates shuffle). */
function randomOrder(rng: UniformSource): Change[] {
  const order = [...CHANGES];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Returns a copy of `image` with random brightness, contrast and saturation
 * factors in `[max(0, 1 - strength), 1 + strength]`. Draws five numbers
 * from `rng`: two for the order, then one factor per change in that order.
 * A `strength` of 0 returns an unchanged copy and draws nothing.
 */
export function colorJitter(image: RgbImage, rng: UniformSource, strength: number): RgbImage {
  if (!(Number.isFinite(strength) && strength >= 0)) {
    throw new RangeError(`Color jitter strength must be a number of at least 0, got ${strength}.`);
  }
  const data = new Uint8Array(image.data);
  if (strength > 0) {
    const low = Math.max(0, 1 - strength);
    for (const change of randomOrder(rng)) {
      applyChange(data, change, low + rng.next() * (1 + strength - low));
    }
  }
  return { width: image.width, height: image.height, data };
}
