/**
 * Image preprocessing shared by training, evaluation and serving, written to
 * give the same pixels as torchvision 0.14 on PIL images:
 *
 * - evaluation: `Resize(round(imgSize / resizeRatio))`, `CenterCrop(imgSize)`,
 *   `ToTensor()`, `Normalize(mean, std)`;
 * - training: `RandomResizedCrop(imgSize)`, `RandomHorizontalFlip()`,
 *   optionally `ColorJitter` and a random Gaussian blur, `ToTensor()`,
 *   `Normalize(mean, std)`.
 *
 * Resizing is Pillow's antialiased bilinear filter (`shared/image/resample.ts`),
 * which `scripts/preprocess_parity.py` checks against torchvision. Outputs are
 * float32 in HWC order (NHWC once batched), as TensorFlow.js convolutions
 * expect, not torchvision's CHW.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./image/decode.ts";
 * import { IMAGENET_MEAN, IMAGENET_STD, preprocessForEval } from "./preprocess.ts";
 * const image = await decodeImage(await Deno.readFile("photo.jpg"));
 * const input = preprocessForEval(image, { imgSize: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD });
 * console.log(input.length); // 224 * 224 * 3
 * ```
 * @module
 */
import { colorJitter } from "./image/color_jitter.ts";
import { randomBlur } from "./image/gaussian_blur.ts";
import { sampleCropBox, type UniformSource } from "./image/random_resized_crop.ts";
import { resample, resampleBox } from "./image/resample.ts";
import type { RgbImage } from "./image/types.ts";
import {
  centerCropBox,
  checkImage,
  checkPositiveInteger,
  validateConfig,
} from "./image/preprocess_checks.ts";

export { roundHalfEven } from "./image/random_resized_crop.ts";
export type { UniformSource } from "./image/random_resized_crop.ts";

/** Input size and normalization of a model. */
export interface PreprocessConfig {
  /** Side of the square model input in pixels, for example 224. */
  imgSize: number;
  /** Per-channel mean subtracted after scaling pixels to [0, 1], in R, G, B order. */
  mean: [number, number, number];
  /** Per-channel standard deviation divided by after subtracting the mean. */
  std: [number, number, number];
  /**
   * Ratio of `imgSize` to the shorter side after the evaluation resize.
   * Default: 0.875, so the shorter side becomes `round(imgSize / 0.875)`,
   * 256 for 224.
   */
  resizeRatio?: number;
}

/** ImageNet channel means (R, G, B) used by torchvision's pretrained models. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (R, G, B) used by torchvision's pretrained models. */
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];
/** Default {@linkcode PreprocessConfig.resizeRatio}. */
export const DEFAULT_RESIZE_RATIO = 0.875;

/** Options for {@linkcode augmentForTrain}; the defaults are torchvision's. */
export interface AugmentOptions {
  /** Range of the crop area as a fraction of the image area. Default: `[0.08, 1]`. */
  scale?: [number, number];
  /** Range of the crop aspect ratio, width over height. Default: `[3/4, 4/3]`. */
  ratio?: [number, number];
  /** Probability of a horizontal flip. Default: 0.5. */
  hflip?: number;
  /**
   * Strength of random brightness, contrast and saturation changes, as
   * torchvision's `ColorJitter(s, s, s)`. Default: 0 (off).
   */
  colorJitter?: number;
  /**
   * Probability of a Gaussian blur with a random sigma from 0.1 to 2 pixels.
   * Default: 0 (off).
   */
  blur?: number;
}

/**
 * Resizes to exactly `width` x `height` with Pillow's antialiased bilinear
 * filter, as `PIL.Image.resize((width, height), Image.BILINEAR)`.
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  checkImage(image);
  checkPositiveInteger("width", width);
  checkPositiveInteger("height", height);
  return resample(image, { x: 0, y: 0, width: image.width, height: image.height }, width, height);
}

/**
 * Resizes so the shorter side is `size`, keeping the aspect ratio as
 * torchvision's `Resize(size)` does: the longer side becomes
 * `floor(size * longer / shorter)`. For an image decoded at reduced scale
 * (`image.reducedDecode`), the sizes are the full image's.
 */
export function resizeShorterSide(image: RgbImage, size: number): RgbImage {
  checkImage(image);
  checkPositiveInteger("size", size);
  const reduced = image.reducedDecode;
  if (reduced !== undefined) {
    // The output size and filter positions come from the full-size image, so
    // the result matches a resize of the full decode within the tolerance of
    // the reduced decode.
    const { width, height } = shorterSideSize(reduced.fullWidth, reduced.fullHeight, size);
    const box = {
      x: reduced.x,
      y: reduced.y,
      width: reduced.fullWidth / reduced.denominator,
      height: reduced.fullHeight / reduced.denominator,
    };
    return resampleBox(image, box, width, height);
  }
  const { width, height } = shorterSideSize(image.width, image.height, size);
  return resample(image, { x: 0, y: 0, width: image.width, height: image.height }, width, height);
}

/**
 * Crops the central `size` x `size` square with torchvision's rounding:
 * `top = round((height - size) / 2)`, `left = round((width - size) / 2)`,
 * ties to even. Raises a `RangeError` when the image is smaller than `size`
 * (torchvision would pad with black); resize it first.
 */
export function centerCrop(image: RgbImage, size: number): RgbImage {
  checkImage(image);
  checkPositiveInteger("size", size);
  const box = centerCropBox(image.width, image.height, size);
  return resample(image, box, size, size);
}

/**
 * Scales pixels to [0, 1] and normalizes each channel: `(x / 255 - mean) / std`,
 * in float32 arithmetic as torchvision's `ToTensor` and `Normalize`. Returns
 * HWC order: `height * width * 3` values.
 */
export function normalizeToFloat32(image: RgbImage, config: PreprocessConfig): Float32Array {
  checkImage(image);
  validateConfig(config);
  return normalize(image, config, false);
}

/**
 * Prepares an image for evaluation or prediction: resize the shorter side to
 * `round(imgSize / resizeRatio)`, crop the central `imgSize` square, and
 * normalize. Returns `imgSize * imgSize * 3` float32 values in HWC order.
 */
export function preprocessForEval(image: RgbImage, config: PreprocessConfig): Float32Array {
  checkImage(image);
  validateConfig(config);
  const resized = resizeShorterSide(image, evalResizeSize(config));
  return normalize(centerCrop(resized, config.imgSize), config, false);
}

/**
 * Prepares an image for training: a random crop box (torchvision's
 * `RandomResizedCrop` sampling) resized to `imgSize` x `imgSize`, a
 * horizontal flip with probability `hflip`, optional color jitter and blur,
 * then normalization. The same generator state gives the same output. Draws
 * from `rng` in this order: two per crop attempt, two for the accepted box's
 * position and one for the flip. Then come five for color jitter and one or
 * two for the blur, only when those are on, so runs without them keep their
 * draws.
 */
export function augmentForTrain(
  image: RgbImage,
  rng: UniformSource,
  config: PreprocessConfig,
  options: AugmentOptions = {},
): Float32Array {
  checkImage(image);
  validateConfig(config);
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  const hflip = options.hflip ?? 0.5;
  checkRange("scale", scale, false);
  checkRange("ratio", ratio, true);
  if (!(hflip >= 0 && hflip <= 1)) {
    throw new RangeError(`hflip must be a probability from 0 to 1, got ${hflip}.`);
  }

  const box = sampleCropBox(image.width, image.height, rng, { scale, ratio });
  let crop = resample(image, box, config.imgSize, config.imgSize);
  const flip = rng.next() < hflip;
  if (options.colorJitter) crop = colorJitter(crop, rng, options.colorJitter);
  if (options.blur) crop = randomBlur(crop, rng, options.blur);
  return normalize(crop, config, flip);
}

/**
 * Shrinks an image so its shorter side is `minSide`, for caching decoded
 * training images at a reduced size. Keeps the aspect ratio, uses the same
 * antialiased filter, and returns `image` itself when the shorter side is
 * already `minSide` or less (it never upscales).
 *
 * NOTE: resizing a cached copy again is not identical to one resize from the
 * original. Keep `minSide` at or above the evaluation resize size, so the
 * second resize stays mild.
 */
export function downscaleForCache(image: RgbImage, minSide: number): RgbImage {
  checkImage(image);
  checkPositiveInteger("minSide", minSide);
  if (Math.min(image.width, image.height) <= minSide) return image;
  return resizeShorterSide(image, minSide);
}

/**
 * Shorter side after the evaluation resize: `round(imgSize / resizeRatio)`,
 * 256 for 224-pixel inputs. Pass it as `minSide` when decoding for
 * evaluation, so a large JPEG decodes at reduced scale but never below it.
 */
export function evalResizeSize(config: Pick<PreprocessConfig, "imgSize" | "resizeRatio">): number {
  return Math.round(config.imgSize / (config.resizeRatio ?? DEFAULT_RESIZE_RATIO));
}

/** Output size of torchvision's `Resize(size)` for a `width` x `height` image. */
export function shorterSideSize(
  width: number,
  height: number,
  size: number,
): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

/** Normalizes with a per-channel lookup table, mirroring the image when `flip` is set. */
function normalize(image: RgbImage, config: PreprocessConfig, flip: boolean): Float32Array {
  const table = normalizationTable(config);
  const { width, height, data } = image;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + (flip ? width - 1 - x : x) * 3;
      const o = row + x * 3;
      out[o] = table[data[s]];
      out[o + 1] = table[256 + data[s + 1]];
      out[o + 2] = table[512 + data[s + 2]];
    }
  }
  return out;
}

/** `(fround(v / 255) - fround(mean)) / fround(std)` in float32 steps, for v in 0..255 and each channel. */
function normalizationTable(config: PreprocessConfig): Float32Array {
  const table = new Float32Array(256 * 3);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.mean[c]);
    const std = Math.fround(config.std[c]);
    for (let v = 0; v < 256; v++) {
      const scaled = Math.fround(v / 255);
      table[c * 256 + v] = Math.fround(Math.fround(scaled - mean) / std);
    }
  }
  return table;
}

function checkRange(name: string, range: [number, number], positive: boolean): void {
  const valid = Array.isArray(range) && range.length === 2 &&
    range.every((value) => Number.isFinite(value) && (positive ? value > 0 : value >= 0)) &&
    range[0] <= range[1];
  if (!valid) {
    throw new RangeError(
      `${name} must be [low, high] with ${positive ? "0 <" : "0 <="} low <= high, ` +
        `got ${JSON.stringify(range)}.`,
    );
  }
}
