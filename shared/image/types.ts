/**
 * Types shared by the image decoders: the decoded {@linkcode RgbImage}, the
 * {@linkcode ImageFormat} names, the {@linkcode ImageHeader} read without
 * decoding pixels, and {@linkcode ImageDecodeError}, the one error class every
 * decoder raises for bad input.
 *
 * @example
 * ```ts
 * import { ImageDecodeError } from "./types.ts";
 * const error = new ImageDecodeError("empty_image", "The upload is empty (0 bytes).");
 * console.log(error.code); // "empty_image"
 * ```
 * @module
 */

/**
 * A decoded image: 8-bit RGB, interleaved (3 bytes per pixel, row-major, no
 * padding), with EXIF orientation already applied and any transparency
 * composited over white.
 */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes: R, G, B for each pixel. */
  data: Uint8Array;
  /**
   * Set when the image was decoded at reduced scale (see
   * {@linkcode DecodeOptions.minSide}): where the full-size image lies in
   * this one's pixel grid. The full image is `fullWidth` x `fullHeight`
   * after orientation, and covers the box from (`x`, `y`) of size
   * `fullWidth / denominator` x `fullHeight / denominator`. The box can end
   * between pixel centers, because the last block row or column of the file
   * may be partly outside the image. `resizeShorterSide` and
   * `preprocessForEval` read this box, so they give the full decode's output
   * size and crop; other functions treat the image as it is.
   */
  reducedDecode?: ReducedDecode;
}

/** Geometry of a reduced-scale decode; see {@linkcode RgbImage.reducedDecode}. */
export interface ReducedDecode {
  /** The reduction: 2, 4 or 8. */
  denominator: number;
  /** Width of the full-size image after orientation. */
  fullWidth: number;
  /** Height of the full-size image after orientation. */
  fullHeight: number;
  /** Left edge of the full image in this image's pixels. */
  x: number;
  /** Top edge of the full image in this image's pixels. */
  y: number;
}

/** A file format recognized by its magic bytes. */
export type ImageFormat = "jpeg" | "png" | "gif" | "webp" | "heic" | "tiff" | "bmp" | "svg";

/** Formats that `decodeImage` decodes; the others are recognized only to name them in errors. */
export const SUPPORTED_FORMATS: readonly ImageFormat[] = Object.freeze([
  "jpeg",
  "png",
  "gif",
  "webp",
  "heic",
]);

/** Header fields read without decoding pixels. */
export interface ImageHeader {
  /** Format found from the magic bytes. */
  format: ImageFormat;
  /** Width in pixels as displayed, that is after `orientation` is applied. */
  width: number;
  /** Height in pixels as displayed, that is after `orientation` is applied. */
  height: number;
  /**
   * EXIF orientation, 1 to 8 (1: stored upright). It is 1 when the file has no
   * valid orientation tag and for HEIC, whose decoder applies the container's
   * own rotation and mirror properties.
   */
  orientation: number;
}

/** Options for decoding. */
export interface DecodeOptions {
  /**
   * Maximum number of pixels (width times height) accepted, checked from the
   * header before any pixel is decoded. Default: {@linkcode DEFAULT_MAX_PIXELS}.
   */
  maxPixels?: number;
  /**
   * Smallest shorter side, in pixels, that the caller needs, for example the
   * evaluation resize size `round(imgSize / resizeRatio)`. A JPEG is then
   * decoded at 1/2, 1/4 or 1/8 scale (DCT scaling), the strongest reduction
   * whose shorter side is still at least `minSide`, and the image comes back
   * smaller than the file's size. Other formats, and JPEGs too small to
   * reduce, decode at full size. Default: full size for every format.
   */
  minSide?: number;
}

/** The pixel limit used when {@linkcode DecodeOptions.maxPixels} is not given: 50 megapixels. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** Class of decoding failure, carried by {@linkcode ImageDecodeError}. */
export type ImageDecodeErrorCode =
  | "empty_image"
  | "unsupported_format"
  | "invalid_image"
  | "too_many_pixels";

/** Options for {@linkcode ImageDecodeError}. */
export interface ImageDecodeErrorOptions {
  /** Format recognized from the magic bytes, when there was one. */
  format?: ImageFormat;
  /** The underlying error, for logs. */
  cause?: unknown;
}

/**
 * The error raised for any image that cannot be decoded. `code` is the class
 * of problem, which an HTTP service can map to a status (for example
 * `empty_image` and `invalid_image` to 400, `unsupported_format` to 415,
 * `too_many_pixels` to 413). `message` names the problem and what to send
 * instead.
 */
export class ImageDecodeError extends Error {
  /** Class of problem. */
  readonly code: ImageDecodeErrorCode;
  /** Format recognized from the magic bytes, when there was one. */
  readonly format?: ImageFormat;

  /** Creates an error with a code, a message for the client and an optional format. */
  constructor(code: ImageDecodeErrorCode, message: string, options: ImageDecodeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ImageDecodeError";
    this.code = code;
    if (options.format !== undefined) this.format = options.format;
  }
}
