/**
 * Decodes image bytes to upright 8-bit RGB. The format comes from the magic
 * bytes. The header is read first, so the pixel limit is enforced before any
 * pixel is decoded. Then one decoder per format runs and the EXIF
 * orientation is applied.
 *
 * | format | decoder (see its module for the reasons)                     |
 * | ------ | ------------------------------------------------------------ |
 * | JPEG   | jpeg-decoder (Rust, WebAssembly, from imagescript 1.3.1), jpeg-js 0.4.4 as fallback |
 * | PNG    | pngjs 7.0.0                                                  |
 * | GIF    | omggif 1.0.10, first frame                                   |
 * | WebP   | libwebp (WebAssembly, @jsquash/webp 1.5.0), first frame      |
 * | HEIC   | libheif + libde265 (WebAssembly, libheif-js 1.23.2)          |
 *
 * TIFF, BMP and SVG are recognized and rejected with `unsupported_format`.
 * imagescript's own TIFF decoder traps inside WebAssembly on ordinary files
 * and no maintained pure-JavaScript BMP decoder is pinned, and SVG is not a
 * photo.
 *
 * Decoding an 8000x6000 JPEG takes 1.4 to 3.2 s of CPU (measured on a shared
 * 2-core x86-64 machine), so a server should decode through `DecoderPool` in
 * `decoder_pool.ts`, which runs this function in Web Workers. The JPEG
 * decoder needs `--allow-env` and `--allow-read` (see `decoders/jpeg.ts`).
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const image = await decodeImage(await Deno.readFile("photo.jpg"), { maxPixels: 50_000_000 });
 * console.log(image.width, image.height, image.data.length);
 * ```
 * @module
 */
import { decodeGif } from "./decoders/gif.ts";
import { decodeHeic } from "./decoders/heic.ts";
import { decodeJpeg } from "./decoders/jpeg.ts";
import { decodePng } from "./decoders/png.ts";
import { decodeWebp } from "./decoders/webp.ts";
import { formatList, formatName, readImageHeader, unrecognizedFormat } from "./header.ts";
import { applyOrientation } from "./orientation.ts";
import { sniffFormat } from "./sniff.ts";
import {
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  type ImageFormat,
  type RgbImage,
  SUPPORTED_FORMATS,
} from "./types.ts";

/**
 * Decodes an image to upright RGB: EXIF orientation 1..8 applied,
 * transparency composited over white, gray, palette, CMYK and 16-bit images
 * converted to 8-bit RGB, and only the first frame of an animation.
 *
 * Raises {@linkcode ImageDecodeError} with code `empty_image` (0 bytes),
 * `unsupported_format` (unrecognized bytes, TIFF, BMP, SVG), `too_many_pixels`
 * (the header's width times height exceeds `maxPixels`; nothing is decoded)
 * or `invalid_image` (corrupt or truncated data). Raises a `RangeError` for an
 * invalid `maxPixels` and a `TypeError` when `bytes` is not a `Uint8Array`.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  const maxPixels = validateMaxPixels(options.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `decodeImage expects the encoded image as a Uint8Array, got ${
        Object.prototype.toString.call(bytes)
      }; ` +
        "wrap an ArrayBuffer with new Uint8Array(buffer).",
    );
  }
  if (bytes.length === 0) {
    throw new ImageDecodeError("empty_image", "The image is empty (0 bytes). Send a photo file.");
  }
  const format = sniffFormat(bytes);
  if (format === null) throw unrecognizedFormat(bytes);
  if (!SUPPORTED_FORMATS.includes(format)) throw unsupportedFormat(format);

  const header = readImageHeader(bytes);
  checkPixelCount(format, header.width, header.height, maxPixels);

  let stored: RgbImage;
  try {
    stored = await decodeStored(bytes, format, maxPixels);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new ImageDecodeError(
      "invalid_image",
      `The ${formatName(format)} file could not be decoded (${detail}). ` +
        "Send the complete, unmodified file, or the photo as JPEG.",
      { format, cause: error },
    );
  }
  return applyOrientation(stored, header.orientation);
}

/** Runs the format's decoder; the result is in stored orientation. */
function decodeStored(
  bytes: Uint8Array,
  format: ImageFormat,
  maxPixels: number,
): Promise<RgbImage> {
  switch (format) {
    case "jpeg":
      return decodeJpeg(bytes);
    case "png":
      return Promise.resolve(decodePng(bytes));
    case "gif":
      return Promise.resolve(decodeGif(bytes, maxPixels));
    case "webp":
      return decodeWebp(bytes, maxPixels);
    case "heic":
      return decodeHeic(bytes, maxPixels);
    default:
      throw unsupportedFormat(format);
  }
}

/** Raises `too_many_pixels` when `width * height` exceeds `maxPixels`. */
export function checkPixelCount(
  format: ImageFormat,
  width: number,
  height: number,
  maxPixels: number,
): void {
  if (width * height <= maxPixels) return;
  throw new ImageDecodeError(
    "too_many_pixels",
    `The ${formatName(format)} image is ${width}x${height} = ${width * height} pixels, ` +
      `more than the limit of ${maxPixels}. Send a smaller image.`,
    { format },
  );
}

function unsupportedFormat(format: ImageFormat): ImageDecodeError {
  const reason = format === "svg"
    ? "SVG is a vector drawing, not a photo"
    : `${formatName(format)} images are not supported`;
  return new ImageDecodeError(
    "unsupported_format",
    `${reason}. Send the photo as JPEG or PNG (supported formats: ${formatList()}).`,
    { format },
  );
}

function validateMaxPixels(maxPixels: number): number {
  if (typeof maxPixels !== "number" || !(maxPixels > 0) || !Number.isFinite(maxPixels)) {
    throw new RangeError(
      `maxPixels must be a positive finite number of pixels, got ${maxPixels}; ` +
        `omit it to use the default of ${DEFAULT_MAX_PIXELS}.`,
    );
  }
  return maxPixels;
}
