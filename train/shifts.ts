/**
 * Deterministic image changes that imitate photos from another source. They
 * measure how a model trained on TrashNet (one object on a white board, even
 * light) copes with dim or warm light, a softer lens, a turned camera, and a
 * busy background in place of the white board.
 *
 * NOTE: these are stand-ins, not real photos from another source. The
 * background swap replaces bright, gray pixels, so it also eats white parts
 * of objects (white paper, clear plastic) and leaves the board's shadows.
 *
 * @example
 * ```ts
 * import { SHIFTS } from "./shifts.ts";
 * const image = { width: 2, height: 1, data: new Uint8Array([255, 255, 255, 10, 20, 30]) };
 * const dim = SHIFTS.find((shift) => shift.name === "dim light")!;
 * console.log(dim.apply(image, { background: image }).data[0]); // 153
 * ```
 * @module
 */
import { gaussianBlur } from "../shared/image/gaussian_blur.ts";
import type { RgbImage } from "../shared/image/types.ts";
import { centerCrop, resizeShorterSide } from "../shared/preprocess.ts";

/** Inputs a shift may use besides the image. */
export interface ShiftContext {
  /** A real-world photo for the background swap. */
  background: RgbImage;
}

/** A named change of an image. */
export interface ImageShift {
  name: string;
  /** One line on what the change imitates. */
  description: string;
  apply(image: RgbImage, context: ShiftContext): RgbImage;
}

function mapChannels(image: RgbImage, gains: [number, number, number]): RgbImage {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.min(255, Math.round(image.data[i] * gains[i % 3]));
  }
  return { width: image.width, height: image.height, data };
}

/** Turns `image` a quarter turn clockwise. */
export function rotateClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const source = (y * width + x) * 3;
      const target = (x * height + (height - 1 - y)) * 3;
      data.set(image.data.subarray(source, source + 3), target);
    }
  }
  return { width: height, height: width, data };
}

/** Tells whether a pixel looks like the white board: bright and nearly gray. */
function isBoard(r: number, g: number, b: number): boolean {
  const high = Math.max(r, g, b);
  const low = Math.min(r, g, b);
  return low > 150 && high - low < 40;
}

/** Replaces the board pixels of `image` with `background`, scaled to cover the image. */
export function swapBackground(image: RgbImage, background: RgbImage): RgbImage {
  const side = Math.max(image.width, image.height);
  const cover = centerCrop(resizeShorterSide(background, side), side);
  const left = Math.floor((side - image.width) / 2);
  const top = Math.floor((side - image.height) / 2);
  const data = new Uint8Array(image.data);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      if (!isBoard(data[i], data[i + 1], data[i + 2])) continue;
      const j = ((y + top) * side + (x + left)) * 3;
      data.set(cover.data.subarray(j, j + 3), i);
    }
  }
  return { width: image.width, height: image.height, data };
}

/** The shifts that `scripts/robustness.ts` measures, the unchanged photos first. */
export const SHIFTS: ImageShift[] = [
  { name: "original", description: "the photos as they are", apply: (image) => image },
  {
    name: "dim light",
    description: "every channel at 60%",
    apply: (image) => mapChannels(image, [0.6, 0.6, 0.6]),
  },
  {
    name: "warm light",
    description: "red up 15%, blue down 20%, as under a tungsten bulb",
    apply: (image) => mapChannels(image, [1.15, 1, 0.8]),
  },
  {
    name: "soft focus",
    description: "Gaussian blur, sigma 1.5 px at the 256 px evaluation size",
    apply: (image) => gaussianBlur(image, 1.5),
  },
  {
    name: "turned camera",
    description: "a quarter turn clockwise",
    apply: (image) => rotateClockwise(image),
  },
  {
    name: "busy background",
    description: "the white board's pixels replaced by a real-world photo",
    apply: (image, context) => swapBackground(image, context.background),
  },
];
