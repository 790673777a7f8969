/**
 * GIF decoding with omggif 1.0.10 (pure JavaScript). Only the first frame is
 * decoded. It is drawn at its position on a transparent canvas of the logical
 * screen size, then composited over white, and later frames are ignored.
 *
 * @example
 * ```ts
 * import { decodeGif } from "./gif.ts";
 * const firstFrame = decodeGif(await Deno.readFile("animation.gif"), 50_000_000);
 * ```
 * @module
 */
import { GifReader } from "omggif";
import { rgbaToRgbOverWhite } from "../pixels.ts";
import { ImageDecodeError, type RgbImage } from "../types.ts";

/**
 * Decodes the first frame of a GIF file. The first frame's own size is
 * checked against `maxPixels` too, because omggif allocates a buffer for it
 * before decoding.
 */
export function decodeGif(bytes: Uint8Array, maxPixels: number): RgbImage {
  let reader: GifReader;
  try {
    reader = new GifReader(bytes);
  } catch (error) {
    throw invalidGif(error);
  }
  const { width, height } = reader;
  if (reader.numFrames() === 0) throw invalidGif(new Error("the file has no image frame"));

  const frame = reader.frameInfo(0);
  if (frame.width * frame.height > maxPixels) {
    throw new ImageDecodeError(
      "too_many_pixels",
      `The first GIF frame is ${frame.width}x${frame.height} pixels, more than the limit of ` +
        `${maxPixels}. Send a smaller image.`,
      { format: "gif" },
    );
  }
  if (frame.x + frame.width > width || frame.y + frame.height > height) {
    throw invalidGif(
      new Error(
        `the first frame (${frame.width}x${frame.height} at ${frame.x},${frame.y}) ` +
          `extends past the ${width}x${height} logical screen`,
      ),
    );
  }

  const rgba = new Uint8Array(width * height * 4); // transparent black
  try {
    reader.decodeAndBlitFrameRGBA(0, rgba);
  } catch (error) {
    throw invalidGif(error);
  }
  return { width, height, data: rgbaToRgbOverWhite(rgba, width * height) };
}

function invalidGif(error: unknown): ImageDecodeError {
  const detail = error instanceof Error ? error.message : String(error);
  return new ImageDecodeError(
    "invalid_image",
    `The GIF file is corrupt or truncated (${detail}). Send the complete, unmodified file.`,
    { format: "gif", cause: error },
  );
}
