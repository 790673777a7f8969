/**
 * Applies an EXIF orientation (1 to 8) to decoded pixels, so the result is
 * the image as it should be displayed. The eight values, from the EXIF 2.3
 * specification (tag 0x0112), say where the stored row 0 and column 0 belong:
 *
 * | value | transform applied here             | size     |
 * | ----- | ---------------------------------- | -------- |
 * | 1     | none                               | W x H    |
 * | 2     | mirror left-right                  | W x H    |
 * | 3     | rotate 180 degrees                 | W x H    |
 * | 4     | mirror top-bottom                  | W x H    |
 * | 5     | transpose (mirror about the main diagonal) | H x W |
 * | 6     | rotate 90 degrees clockwise        | H x W    |
 * | 7     | transverse (mirror about the anti-diagonal) | H x W |
 * | 8     | rotate 90 degrees counterclockwise | H x W    |
 *
 * @example
 * ```ts
 * import { applyOrientation } from "./orientation.ts";
 * const stored = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]) };
 * const upright = applyOrientation(stored, 6); // 1 wide, 2 high: red above blue
 * ```
 * @module
 */
import type { RgbImage } from "./types.ts";

/**
 * Returns the displayed image for `orientation`. Orientation 1 returns
 * `image` itself; other values return a new image. Raises a `RangeError` for
 * a value outside 1..8.
 */
export function applyOrientation(image: RgbImage, orientation: number): RgbImage {
  if (!Number.isInteger(orientation) || orientation < 1 || orientation > 8) {
    throw new RangeError(`EXIF orientation must be an integer from 1 to 8, got ${orientation}.`);
  }
  if (orientation === 1) return image;

  const { width, height, data } = image;
  const swapped = orientation >= 5;
  const outWidth = swapped ? height : width;
  const outHeight = swapped ? width : height;
  const { origin, stepX, stepY } = pixelSteps(orientation, width, height, outWidth);

  // The destination pixel index is linear in the source coordinates:
  // origin + x * stepX + y * stepY, for source pixel (x, y).
  const out = new Uint8Array(data.length);
  let source = 0;
  for (let y = 0; y < height; y++) {
    let target = origin + y * stepY;
    for (let x = 0; x < width; x++) {
      const t = target * 3;
      out[t] = data[source];
      out[t + 1] = data[source + 1];
      out[t + 2] = data[source + 2];
      source += 3;
      target += stepX;
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/**
 * Returns where source pixel (0, 0) lands and how far one step in source x
 * and in source y moves in the destination, in pixels.
 */
function pixelSteps(
  orientation: number,
  width: number,
  height: number,
  outWidth: number,
): { origin: number; stepX: number; stepY: number } {
  const lastX = width - 1;
  const lastY = height - 1;
  switch (orientation) {
    case 2: // destination (lastX - x, y)
      return { origin: lastX, stepX: -1, stepY: outWidth };
    case 3: // (lastX - x, lastY - y)
      return { origin: lastX + lastY * outWidth, stepX: -1, stepY: -outWidth };
    case 4: // (x, lastY - y)
      return { origin: lastY * outWidth, stepX: 1, stepY: -outWidth };
    case 5: // (y, x)
      return { origin: 0, stepX: outWidth, stepY: 1 };
    case 6: // (lastY - y, x)
      return { origin: lastY, stepX: outWidth, stepY: -1 };
    case 7: // (lastY - y, lastX - x)
      return { origin: lastY + lastX * outWidth, stepX: -outWidth, stepY: -1 };
    case 8: // (y, lastX - x)
      return { origin: lastX * outWidth, stepX: -outWidth, stepY: 1 };
    default: // 1: (x, y)
      return { origin: 0, stepX: 1, stepY: outWidth };
  }
}
