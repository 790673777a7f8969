/**
 * Test images made in code: JPEG and PNG files of a given size with smooth
 * colour gradients, so that different seeds give different predictions.
 * @module
 */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

function gradientPixels(width: number, height: number, seed: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 4;
      rgba[offset] = (x * 255 / width + seed * 40) % 256;
      rgba[offset + 1] = (y * 255 / height + seed * 90) % 256;
      rgba[offset + 2] = ((x + y) * 128 / (width + height) + seed * 25) % 256;
      rgba[offset + 3] = 255;
    }
  }
  return rgba;
}

/** Encodes a `width` x `height` gradient as a baseline JPEG. */
export function makeJpeg(width: number, height: number, seed = 0): Uint8Array {
  const data = gradientPixels(width, height, seed);
  return new Uint8Array(jpeg.encode({ data, width, height }, 90).data);
}

/** Encodes a `width` x `height` gradient as an 8-bit RGBA PNG. */
export function makePng(width: number, height: number, seed = 0): Uint8Array {
  const png = new PNG({ width, height });
  png.data.set(gradientPixels(width, height, seed));
  return new Uint8Array(PNG.sync.write(png));
}
