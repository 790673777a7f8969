/**
 * Turns uploaded bytes into the model's input: decode through the shared
 * image module (in Web Workers when a pool is configured), then the shared
 * evaluation preprocessing. Decoder errors become the API's error codes.
 *
 * @example
 * ```ts
 * import { createImageIntake } from "./intake.ts";
 * const intake = createImageIntake({ maxPixels: 50_000_000, workers: 2 });
 * const { image, format } = await intake.decode(await Deno.readFile("photo.jpg"));
 * console.log(format, image.width, image.height);
 * intake.close();
 * ```
 * @module
 */
import {
  decodeImage,
  DecoderPool,
  ImageDecodeError,
  type ImageFormat,
  readImageHeader,
  type RgbImage,
} from "../../shared/image/mod.ts";
import { checkPixelCount } from "../../shared/image/decode.ts";
import type { InputSpec } from "../../shared/model/metadata.ts";
import { evalResizeSize, preprocessForEval } from "../../shared/preprocess.ts";
import { ApiError, type ErrorCode } from "../errors.ts";
import { DecodeSlots } from "./decode_slots.ts";

/** A decoded upload. */
export interface DecodedUpload {
  /** Upright 8-bit RGB pixels. */
  image: RgbImage;
  /** Format found from the bytes' signature. */
  format: ImageFormat;
}

/** Decoding and preprocessing as the classify route uses them. */
export interface ImageIntake {
  /**
   * Decodes `bytes`, or throws an {@linkcode ApiError} with an image error
   * code. When `options.signal` aborts while the upload waits for a
   * decoder, it throws the signal's reason and the image is not decoded.
   * With `options.input`, a large JPEG decodes at reduced scale, never
   * below the shorter side that `preprocess` resizes to.
   */
  decode(bytes: Uint8Array, options?: IntakeDecodeOptions): Promise<DecodedUpload>;
  /** Resizes, crops and normalizes `image` as the model's metadata specifies. */
  preprocess(image: RgbImage, input: InputSpec): Float32Array;
  /** Stops the decoder workers. */
  close(): void;
}

/** Options for {@linkcode ImageIntake.decode}. */
export interface IntakeDecodeOptions {
  /** The request's deadline. */
  signal?: AbortSignal;
  /** The model's input; its evaluation resize size becomes the decoder's `minSide`. */
  input?: InputSpec;
}

/** Options for {@linkcode createImageIntake}. */
export interface ImageIntakeOptions {
  /** Maximum width times height, checked from the header before decoding. */
  maxPixels: number;
  /** Web Workers that decode. 0 decodes on the main thread, which blocks other requests meanwhile. */
  workers: number;
}

const ERROR_CODE_OF: Record<ImageDecodeError["code"], ErrorCode> = {
  empty_image: "empty_body",
  unsupported_format: "unsupported_media_type",
  invalid_image: "invalid_image",
  too_many_pixels: "image_too_large",
};

/** Converts a decoder error into the API error with the matching code and the same message. */
export function toApiError(error: ImageDecodeError): ApiError {
  return new ApiError(ERROR_CODE_OF[error.code], error.message, { cause: error });
}

/** Creates the intake. Call `close()` when the server stops. */
export function createImageIntake(options: ImageIntakeOptions): ImageIntake {
  const { maxPixels, workers } = options;
  const pool = workers > 0 ? new DecoderPool({ size: workers }) : undefined;
  const slots = new DecodeSlots(Math.max(1, workers));
  const decodePixels = pool
    ? (bytes: Uint8Array, minSide?: number) => pool.decode(bytes, { maxPixels, minSide })
    : (bytes: Uint8Array, minSide?: number) => decodeImage(bytes, { maxPixels, minSide });

  return {
    async decode(bytes, options = {}) {
      const minSide = options.input ? evalResizeSize(options.input) : undefined;
      try {
        // The header gives the format for the response. Reading it and
        // checking the pixel count here rejects empty, unrecognized and
        // oversized images without a round trip to a worker.
        const { format, width, height } = readImageHeader(bytes);
        checkPixelCount(format, width, height, maxPixels);
        const image = await slots.run(() => decodePixels(bytes, minSide), options.signal);
        return { image, format };
      } catch (error) {
        if (error instanceof ImageDecodeError) throw toApiError(error);
        throw error;
      }
    },
    preprocess: (image, input) => preprocessForEval(image, input),
    close: () => pool?.close(),
  };
}
