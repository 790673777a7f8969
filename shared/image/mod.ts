/**
 * Image decoding shared by training, evaluation, prediction and the edge
 * service, so all of them see the same pixels.
 *
 * - {@linkcode decodeImage}: bytes to upright 8-bit RGB, with a pixel limit
 *   checked from the header first.
 * - {@linkcode DecoderPool}: the same in Web Workers, off the main event loop.
 * - {@linkcode readImageHeader} and {@linkcode sniffFormat}: cheap checks
 *   without decoding.
 *
 * @example
 * ```ts
 * import { DecoderPool, ImageDecodeError } from "./mod.ts";
 * const pool = new DecoderPool({ size: 2 });
 * try {
 *   const image = await pool.decode(await Deno.readFile("photo.jpg"), { maxPixels: 50_000_000 });
 *   console.log(image.width, image.height);
 * } catch (error) {
 *   if (error instanceof ImageDecodeError) console.log(error.code, error.message);
 * } finally {
 *   pool.close();
 * }
 * ```
 * @module
 */
export { decodeImage } from "./decode.ts";
export { DecoderPool, type DecoderPoolOptions } from "./decoder_pool.ts";
export { readImageHeader } from "./header.ts";
export { applyOrientation } from "./orientation.ts";
export { sniffFormat } from "./sniff.ts";
export {
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  type ImageDecodeErrorCode,
  type ImageFormat,
  type ImageHeader,
  type RgbImage,
  SUPPORTED_FORMATS,
} from "./types.ts";
