/**
 * Messages between `DecoderPool` and `decoder_worker.ts`.
 * @module
 */
import type { ImageDecodeErrorCode, ImageFormat, RgbImage } from "./types.ts";

/** A decode request sent to a worker. */
export interface WorkerRequest {
  /** Request id, echoed in the reply. */
  id: number;
  /** The encoded image. */
  bytes: Uint8Array;
  /** Pixel limit passed to `decodeImage`. */
  maxPixels: number;
  /** Smallest shorter side passed to `decodeImage`, when the caller allows a reduced decode. */
  minSide?: number;
}

/** An error as it crosses the worker boundary. */
export interface SerializedError {
  /** The error class name, for example `ImageDecodeError` or `RangeError`. */
  name: string;
  /** The error message. */
  message: string;
  /** The `ImageDecodeError` code, when it was one. */
  code?: ImageDecodeErrorCode;
  /** The `ImageDecodeError` format, when it had one. */
  format?: ImageFormat;
}

/** A worker's reply: the decoded image or the error. */
export type WorkerReply =
  | { id: number; ok: true; image: RgbImage }
  | { id: number; ok: false; error: SerializedError };
