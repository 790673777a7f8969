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
import { decodeJpeg, type JpegDecodeOptions, scaledSize } from "./decoders/jpeg.ts";
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
  type ImageHeader,
  type ReducedDecode,
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
 * invalid `maxPixels` or `minSide` and a `TypeError` when `bytes` is not a
 * `Uint8Array`.
 *
 * With `options.minSide`, a JPEG whose shorter side is at least twice
 * `minSide` decodes at 1/2, 1/4 or 1/8 scale, and the result is that much
 * smaller (see {@linkcode DecodeOptions.minSide}).
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  const maxPixels = validateMaxPixels(options.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (options.minSide !== undefined) validateMinSide(options.minSide);
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
  const jpegOptions = format === "jpeg" ? jpegOptionsFor(header, options.minSide) : {};

  let stored: RgbImage;
  try {
    stored = await decodeStored(bytes, format, maxPixels, jpegOptions);
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
  const image = applyOrientation(stored, header.orientation);
  const denominator = jpegOptions.scaleDenominator ?? 1;
  // The jpeg-js fallback decodes at full size even when a reduction was requested.
  if (denominator > 1 && stored.width < jpegOptions.storedSize!.width) {
    image.reducedDecode = reducedGeometry(image, header, denominator);
  }
  return image;
}

/**
 * Places the full image in the reduced pixel grid. Only the file's last
 * block column and row can be partial, so the full image starts at 0 unless
 * the orientation moved that column or row to the left or top.
 */
function reducedGeometry(
  image: RgbImage,
  header: ImageHeader,
  denominator: number,
): ReducedDecode {
  const spanX = header.width / denominator;
  const spanY = header.height / denominator;
  const { orientation } = header;
  // Orientations whose displayed left column is the stored last column or row.
  const fromRight = orientation === 2 || orientation === 3 || orientation === 6 ||
    orientation === 7;
  // Orientations whose displayed top row is the stored last row or column.
  const fromBottom = orientation === 3 || orientation === 4 || orientation === 7 ||
    orientation === 8;
  return {
    denominator,
    fullWidth: header.width,
    fullHeight: header.height,
    x: fromRight ? image.width - spanX : 0,
    y: fromBottom ? image.height - spanY : 0,
  };
}

/** Runs the format's decoder; the result is in stored orientation. */
function decodeStored(
  bytes: Uint8Array,
  format: ImageFormat,
  maxPixels: number,
  jpegOptions: JpegDecodeOptions,
): Promise<RgbImage> {
  switch (format) {
    case "jpeg":
      return decodeJpeg(bytes, jpegOptions);
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

/**
 * Returns the reduction for a `width` x `height` JPEG that keeps its shorter
 * side at least `minSide`: 8, 4 or 2 (the strongest that fits), or 1 when
 * even 1/2 would go below. Sides are rounded up, as the decoder does.
 */
export function jpegScaleDenominator(width: number, height: number, minSide: number): number {
  for (const denominator of [8, 4, 2]) {
    const reduced = scaledSize({ width, height }, denominator);
    if (Math.min(reduced.width, reduced.height) >= minSide) return denominator;
  }
  return 1;
}

function jpegOptionsFor(header: ImageHeader, minSide: number | undefined): JpegDecodeOptions {
  if (minSide === undefined) return {};
  // The header's size is after orientation; the decoder works on the stored size.
  const swapped = header.orientation >= 5;
  const storedSize = {
    width: swapped ? header.height : header.width,
    height: swapped ? header.width : header.height,
  };
  const scaleDenominator = jpegScaleDenominator(storedSize.width, storedSize.height, minSide);
  return { scaleDenominator, storedSize };
}

function validateMinSide(minSide: number): void {
  if (!Number.isSafeInteger(minSide) || minSide < 1) {
    throw new RangeError(
      `minSide must be a positive integer number of pixels, got ${minSide}; ` +
        "omit it to decode at full size.",
    );
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
