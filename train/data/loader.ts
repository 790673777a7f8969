/**
 * The input pipeline between the dataset lists and the trainer: decoding every
 * sample once, in parallel, into an in-memory cache, and preparing each batch
 * while the previous one trains.
 *
 * @example
 * ```ts
 * import { BatchPrefetcher, decodeAll } from "./loader.ts";
 * const { decoded, skipped } = await decodeAll(split.train, { pool, cacheMinSide: 73 });
 * if (skipped.length > 0) console.warn(`Skipped ${skipped.length} unreadable files`);
 * const batches = new BatchPrefetcher(order, { batchSize: 32, makeBatch });
 * for await (const batch of batches) await trainOnBatch(batch.x, batch.y);
 * ```
 * @module
 */
import type { DecodeOptions, RgbImage } from "../../shared/image/types.ts";
import { downscaleForCache } from "../../shared/preprocess.ts";
import type { Sample } from "./image_folder.ts";

export { type Batch, BatchPrefetcher, type BatchPrefetcherArgs } from "./prefetch.ts";

export type { RgbImage };

/**
 * Decodes image files, usually a `DecoderPool` of worker threads. It rejects
 * with an error named `ImageDecodeError` for a file that is not a readable
 * image.
 */
export interface ImageDecoder {
  /** Decodes one encoded image file. */
  decode(bytes: Uint8Array, options?: DecodeOptions): Promise<RgbImage>;
}

/** A sample and its decoded, possibly downscaled, image. */
export interface DecodedSample {
  /** The sample the image was read from. */
  sample: Sample;
  /** The decoded image. */
  image: RgbImage;
}

/** A file that {@linkcode decodeAll} could not read or decode. */
export interface SkippedFile {
  /** Path of the file. */
  path: string;
  /** Error message, prefixed by the decoder's error code when it has one. */
  reason: string;
}

/** Options for {@linkcode decodeAll}. */
export interface DecodeAllOptions {
  /** Decoder that does the work, for example a worker pool. */
  pool: ImageDecoder;
  /**
   * Shorter side in pixels that each image is reduced to before it is cached,
   * keeping the aspect ratio. Smaller images are kept as they are. It is also
   * passed to the decoder as `minSide`, so large JPEGs decode at 1/2 to 1/8
   * scale first. Default: no reduction.
   */
  cacheMinSide?: number;
  /** Function that reduces an image to `cacheMinSide`. Default: `downscaleForCache`. */
  downscale?: (image: RgbImage, minSide: number) => RgbImage;
  /** Maximum width x height that the decoder accepts, passed to `pool.decode`. Default: the decoder's. */
  maxPixels?: number;
  /**
   * Maximum number of files being read or decoded at once. Default: twice
   * `navigator.hardwareConcurrency`, so that a pool with one worker per CPU
   * has a file queued for each worker while it decodes another.
   */
  concurrency?: number;
  /** Called after each file, decoded or skipped, with the counts so far. */
  onProgress?: (done: number, total: number) => void;
}

/** The result of {@linkcode decodeAll}. */
export interface DecodeAllResult {
  /** Decoded samples, in the order of the input. */
  decoded: DecodedSample[];
  /** Files that could not be read or decoded, in the order of the input. */
  skipped: SkippedFile[];
}

/**
 * Reads and decodes every sample's file, with at most `concurrency` files in
 * flight. Files that cannot be read (missing, no permission) or decoded are
 * skipped and returned, so the caller can report them in one warning.
 *
 * @throws {RangeError} for an invalid `cacheMinSide` or `concurrency`.
 * @throws any other error from reading or decoding, such as a closed pool.
 */
export async function decodeAll(
  samples: Sample[],
  options: DecodeAllOptions,
): Promise<DecodeAllResult> {
  const { pool, cacheMinSide, maxPixels, onProgress } = options;
  const downscale = options.downscale ?? downscaleForCache;
  const concurrency = options.concurrency ?? 2 * navigator.hardwareConcurrency;
  validateDecodeOptions(options, concurrency);

  // A JPEG much larger than cacheMinSide decodes at reduced scale (minSide).
  const decodeOptions: DecodeOptions = {};
  if (maxPixels !== undefined) decodeOptions.maxPixels = maxPixels;
  if (cacheMinSide !== undefined) decodeOptions.minSide = cacheMinSide;
  const results = new Array<DecodedSample | SkippedFile>(samples.length);
  let next = 0;
  let done = 0;
  const runWorker = async () => {
    while (next < samples.length) {
      const index = next++;
      const sample = samples[index];
      results[index] = await decodeOne(sample, pool, decodeOptions);
      const result = results[index];
      if ("image" in result && cacheMinSide !== undefined) {
        result.image = downscale(result.image, cacheMinSide);
      }
      onProgress?.(++done, samples.length);
    }
  };
  const workerCount = Math.min(concurrency, samples.length);
  await Promise.all(Array.from({ length: workerCount }, runWorker));

  const decoded = results.filter((result): result is DecodedSample => "image" in result);
  const skipped = results.filter((result): result is SkippedFile => "reason" in result);
  return { decoded, skipped };
}

async function decodeOne(
  sample: Sample,
  pool: ImageDecoder,
  options: DecodeOptions,
): Promise<DecodedSample | SkippedFile> {
  try {
    const bytes = await Deno.readFile(sample.path);
    const image = await pool.decode(bytes, Object.keys(options).length > 0 ? options : undefined);
    return { sample, image };
  } catch (error) {
    if (!isUnreadableFileError(error)) throw error;
    const code = (error as { code?: unknown }).code;
    const reason = typeof code === "string" ? `${code}: ${error.message}` : error.message;
    return { path: sample.path, reason };
  }
}

function isUnreadableFileError(error: unknown): error is Error {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.IsADirectory ||
    // Checked by name, so errors from any ImageDecoder count, including
    // copies that a worker pool re-creates on this thread.
    (error instanceof Error && error.name === "ImageDecodeError");
}

function validateDecodeOptions(options: DecodeAllOptions, concurrency: number): void {
  const { cacheMinSide } = options;
  if (cacheMinSide !== undefined && !(Number.isInteger(cacheMinSide) && cacheMinSide > 0)) {
    throw new RangeError(
      `Invalid cacheMinSide ${cacheMinSide}: use a positive number of pixels, or leave it ` +
        `out to cache images at full size.`,
    );
  }
  if (!(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new RangeError(`Invalid concurrency ${concurrency}: use a positive integer.`);
  }
}
