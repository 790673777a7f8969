/**
 * Gaussian blur of 8-bit RGB images, separable, with reflected borders
 * (torchvision's `GaussianBlur` pads the same way), and the random variant
 * used as a training augmentation.
 *
 * Why it is an augmentation here: in TrashNet, the `trash` photos went
 * through one more resampling than the rest, so they are slightly softer. A
 * network can learn "soft means trash". Blurring a random share of every
 * class's training images takes that shortcut away.
 *
 * @example
 * ```ts
 * import { gaussianBlur } from "./gaussian_blur.ts";
 * const image = { width: 3, height: 1, data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0]) };
 * console.log(gaussianBlur(image, 1).data[3] < 255); // true
 * ```
 * @module
 */
import type { UniformSource } from "./random_resized_crop.ts";
import type { RgbImage } from "./types.ts";

/** Range of the blur's standard deviation in pixels; torchvision's default. */
export const BLUR_SIGMA_RANGE: [number, number] = [0.1, 2];

/** Normalized 1-D Gaussian weights of radius `ceil(3 * sigma)`. */
function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const weight = Math.exp(-(i * i) / (2 * sigma * sigma));
    kernel[i + radius] = weight;
    sum += weight;
  }
  return kernel.map((weight) => weight / sum);
}

/** Reflects `index` into 0..size-1 without repeating the edge (numpy's "reflect"). */
function reflect(index: number, size: number): number {
  if (size === 1) return 0;
  const period = 2 * (size - 1);
  const folded = ((index % period) + period) % period;
  return folded < size ? folded : period - folded;
}

/** Blurs along one axis: rows when `horizontal`, else columns. */
function blurAxis(
  source: Float32Array,
  size: { width: number; height: number },
  kernel: Float64Array,
  horizontal: boolean,
): Float32Array {
  const { width, height } = size;
  const radius = (kernel.length - 1) / 2;
  const out = new Float32Array(source.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = -radius; k <= radius; k++) {
        const sx = horizontal ? reflect(x + k, width) : x;
        const sy = horizontal ? y : reflect(y + k, height);
        const s = (sy * width + sx) * 3;
        const weight = kernel[k + radius];
        r += weight * source[s];
        g += weight * source[s + 1];
        b += weight * source[s + 2];
      }
      const o = (y * width + x) * 3;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  }
  return out;
}

/** Returns a copy of `image` blurred with a Gaussian of standard deviation `sigma` pixels. */
export function gaussianBlur(image: RgbImage, sigma: number): RgbImage {
  if (!(Number.isFinite(sigma) && sigma > 0)) {
    throw new RangeError(`Blur sigma must be a positive number, got ${sigma}.`);
  }
  const kernel = gaussianKernel(sigma);
  const size = { width: image.width, height: image.height };
  const rows = blurAxis(Float32Array.from(image.data), size, kernel, true);
  const both = blurAxis(rows, size, kernel, false);
  const data = new Uint8Array(both.length);
  for (let i = 0; i < both.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(both[i])));
  return { width: image.width, height: image.height, data };
}

/**
 * With probability `probability`, blurs `image` with a sigma drawn
 * uniformly from {@linkcode BLUR_SIGMA_RANGE}; otherwise returns it as it
 * is. Draws one number from `rng`, and a second one when it blurs. A
 * `probability` of 0 draws nothing.
 */
export function randomBlur(image: RgbImage, rng: UniformSource, probability: number): RgbImage {
  if (!(probability >= 0 && probability <= 1)) {
    throw new RangeError(`Blur probability must be from 0 to 1, got ${probability}.`);
  }
  if (probability === 0 || rng.next() >= probability) return image;
  const [low, high] = BLUR_SIGMA_RANGE;
  return gaussianBlur(image, low + rng.next() * (high - low));
}
