/**
 * The crop-box sampling of torchvision's `RandomResizedCrop.get_params`
 * (torchvision 0.14). It makes up to 10 tries, each drawing an area fraction
 * from `scale` and a log-uniform aspect ratio from `ratio`, and takes the
 * first box that fits inside the image, at a uniform position. When none
 * fits, it center-crops the image clamped to the ratio range. torchvision draws from torch's generator in float32; this
 * draws from the caller's generator in float64, so the distribution is the
 * same but the boxes for a seed are not torch's.
 *
 * @example
 * ```ts
 * import { Rng } from "../random.ts";
 * import { sampleCropBox } from "./random_resized_crop.ts";
 * const box = sampleCropBox(512, 384, new Rng(1), { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] });
 * console.log(box.x, box.y, box.width, box.height);
 * ```
 * @module
 */
import type { PixelRegion } from "./resample.ts";

/** A source of uniform numbers in [0, 1), such as `Rng` from `shared/random.ts`. */
export interface UniformSource {
  /** Returns the next uniform number in [0, 1). */
  next(): number;
}

/** Ranges to sample from. */
export interface CropBoxRanges {
  /** Range of the crop area as a fraction of the image area. */
  scale: [number, number];
  /** Range of the crop aspect ratio, width over height. */
  ratio: [number, number];
}

const MAX_TRIES = 10;

/** Samples a crop box inside a `width` x `height` image. */
export function sampleCropBox(
  width: number,
  height: number,
  rng: UniformSource,
  ranges: CropBoxRanges,
): PixelRegion {
  const area = width * height;
  const logRatio = [Math.log(ranges.ratio[0]), Math.log(ranges.ratio[1])];

  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const targetArea = area * uniform(rng, ranges.scale[0], ranges.scale[1]);
    const aspectRatio = Math.exp(uniform(rng, logRatio[0], logRatio[1]));
    const cropWidth = roundHalfEven(Math.sqrt(targetArea * aspectRatio));
    const cropHeight = roundHalfEven(Math.sqrt(targetArea / aspectRatio));
    if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
      const y = Math.floor(rng.next() * (height - cropHeight + 1));
      const x = Math.floor(rng.next() * (width - cropWidth + 1));
      return { x, y, width: cropWidth, height: cropHeight };
    }
  }
  return fallbackCenterCrop(width, height, ranges.ratio);
}

/** Returns the whole image narrowed to the nearest allowed aspect ratio, centered. */
function fallbackCenterCrop(width: number, height: number, ratio: [number, number]): PixelRegion {
  const inRatio = width / height;
  const minRatio = Math.min(ratio[0], ratio[1]);
  const maxRatio = Math.max(ratio[0], ratio[1]);
  let cropWidth = width;
  let cropHeight = height;
  if (inRatio < minRatio) {
    cropHeight = roundHalfEven(cropWidth / minRatio);
  } else if (inRatio > maxRatio) {
    cropWidth = roundHalfEven(cropHeight * maxRatio);
  }
  return {
    x: Math.floor((width - cropWidth) / 2),
    y: Math.floor((height - cropHeight) / 2),
    width: cropWidth,
    height: cropHeight,
  };
}

function uniform(rng: UniformSource, low: number, high: number): number {
  return low + (high - low) * rng.next();
}

/** Rounds to the nearest integer, ties to even, as Python 3's `round`. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
