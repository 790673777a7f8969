/**
 * Argument checks for `preprocess.ts`, each raising an error that names the
 * value and the fix.
 * @module
 */
import { roundHalfEven } from "./random_resized_crop.ts";
import type { PixelRegion } from "./resample.ts";
import type { RgbImage } from "./types.ts";
import type { PreprocessConfig } from "../preprocess.ts";

/** Raises a `TypeError` unless `image` is a non-empty RGB image with a matching buffer. */
export function checkImage(image: RgbImage): void {
  if (
    !Number.isInteger(image?.width) || !Number.isInteger(image?.height) || image.width <= 0 ||
    image.height <= 0
  ) {
    throw new TypeError(
      `Expected an RgbImage with positive integer width and height, got ` +
        `${image?.width}x${image?.height}.`,
    );
  }
  if (!(image.data instanceof Uint8Array) || image.data.length !== image.width * image.height * 3) {
    throw new TypeError(
      `Expected ${image.width * image.height * 3} bytes of RGB data for a ` +
        `${image.width}x${image.height} image, got ${image.data?.length}; ` +
        "decode with decodeImage, which returns 3 bytes per pixel.",
    );
  }
}

/** Raises a `RangeError` unless `value` is a positive integer. */
export function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer number of pixels, got ${value}.`);
  }
}

/** Raises a `RangeError` for an invalid size, mean, std or resize ratio. */
export function validateConfig(config: PreprocessConfig): void {
  checkPositiveInteger("imgSize", config.imgSize);
  for (const name of ["mean", "std"] as const) {
    const values = config[name];
    if (!Array.isArray(values) || values.length !== 3 || !values.every(Number.isFinite)) {
      throw new RangeError(
        `${name} must be 3 finite numbers (R, G, B), got ${JSON.stringify(values)}.`,
      );
    }
  }
  if (config.std.some((value) => value === 0)) {
    throw new RangeError(`std must not contain 0, got ${JSON.stringify(config.std)}.`);
  }
  const ratio = config.resizeRatio;
  if (ratio !== undefined && !(ratio > 0 && ratio <= 1)) {
    throw new RangeError(
      `resizeRatio must be in (0, 1], got ${ratio}; 0.875 resizes 224-pixel inputs from 256.`,
    );
  }
}

/** The central square with torchvision's `CenterCrop` rounding; the image must be large enough. */
export function centerCropBox(width: number, height: number, size: number): PixelRegion {
  if (width < size || height < size) {
    throw new RangeError(
      `Cannot center-crop ${size}x${size} from a ${width}x${height} image; ` +
        `resize it first, for example with resizeShorterSide(image, ${size}).`,
    );
  }
  return {
    x: roundHalfEven((width - size) / 2),
    y: roundHalfEven((height - size) / 2),
    width: size,
    height: size,
  };
}
