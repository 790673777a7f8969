/**
 * PNG decoding with pngjs 7.0.0 (pure JavaScript, zlib from `node:zlib`). It
 * handles every PNG colour type and bit depth, `tRNS` transparency for
 * palette, gray and RGB images, and Adam7 interlacing, and checks chunk CRCs.
 * Its output is 8-bit RGBA: 16-bit samples are scaled with rounding
 * (`round(v * 255 / 65535)`), which can differ by one level from Pillow, which
 * keeps the high byte. Transparency is composited over white here. APNG
 * files decode to their default image, which is the first frame.
 *
 * @example
 * ```ts
 * import { decodePng } from "./png.ts";
 * const stored = decodePng(await Deno.readFile("image.png"));
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { rgbaToRgbOverWhite } from "../pixels.ts";
import { ImageDecodeError, type RgbImage } from "../types.ts";

/** Decodes a PNG file to RGB pixels, transparency composited over white. */
export function decodePng(bytes: Uint8Array): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ImageDecodeError(
      "invalid_image",
      `The PNG file is corrupt or truncated (${detail}). Send the complete, unmodified file.`,
      { format: "png", cause: error },
    );
  }
  const { width, height, data } = decoded;
  return { width, height, data: rgbaToRgbOverWhite(data, width * height) };
}
