/**
 * JPEG decoding. The primary decoder is the `jpeg-decoder` Rust crate
 * (0.1.22) compiled to WebAssembly, as shipped in imagescript 1.3.1's
 * `wasm/node/jpeg.js`. It upsamples chroma like libjpeg ("fancy" triangle
 * upsampling), so its pixels match Pillow's within 0.06/255 mean absolute
 * difference on TrashNet and EXIF test photos. jpeg-js 0.4.4 replicates
 * chroma (nearest neighbour) and differs from Pillow by 0.4 to 0.7/255 on
 * average, with up to 50 levels at colour edges. The WebAssembly decoder is
 * also faster: 99 ms against 184 ms for an 1800x1200 photo, and 3.2 s against
 * 4.5 s for 8000x6000 (Deno 2.9.6, shared 2-core x86-64 machine). It handles
 * baseline, progressive, grayscale and Adobe CMYK/YCCK files. Each call gets
 * a fresh WebAssembly instance, so a trap (a Rust panic) leaves no state
 * behind.
 *
 * Importing this module reads the `IMAGESCRIPT_WASM_SIMD` environment
 * variable (imagescript's loader does), so programs need `--allow-env` (or
 * `--allow-env=IMAGESCRIPT_WASM_SIMD`), and `--allow-read` for the `.wasm`
 * file.
 *
 * When it fails, jpeg-js is tried before the file is declared invalid,
 * because the two parsers accept slightly different damaged files.
 *
 * The WebAssembly decoder can also decode at 1/2, 1/4 or 1/8 scale by
 * running a reduced inverse DCT on each 8x8 block (at 1/8, only the DC
 * coefficient, so each block becomes its mean). A 4000x3000 photo takes
 * about 21 ms at 1/8 against 530 ms at full size (Deno 2.9.6, 2-core
 * x86-64 machine). jpeg-js has no reduced decode, so its fallback output is
 * full size.
 *
 * @example
 * ```ts
 * import { decodeJpeg } from "./jpeg.ts";
 * const stored = await decodeJpeg(await Deno.readFile("photo.jpg"));
 * ```
 * @module
 */
import jpegJs from "jpeg-js";
// @ts-types="./imagescript_wasm.d.ts"
import jpegWasm from "imagescript/wasm/node/jpeg.js";
import { cmykToRgb, grayToRgb } from "../pixels.ts";
import { ImageDecodeError, type RgbImage } from "../types.ts";

/** Pixel layouts returned by the WebAssembly decoder. */
const WASM_GRAY = 0;
const WASM_RGB = 1;
const WASM_CMYK = 2;

/** The scale reductions that {@linkcode decodeJpeg} accepts: 1, 1/2, 1/4 and 1/8. */
export const JPEG_SCALE_DENOMINATORS: readonly number[] = [1, 2, 4, 8];

/** Options for {@linkcode decodeJpeg}. */
export interface JpegDecodeOptions {
  /**
   * Decode at 1/`scaleDenominator` of the stored size, each side rounded up:
   * 1, 2, 4 or 8. Default: 1 (full size).
   */
  scaleDenominator?: number;
  /** Stored width and height from the header, needed when `scaleDenominator` is above 1. */
  storedSize?: { width: number; height: number };
}

/**
 * Decodes a JPEG file to RGB pixels in stored orientation (EXIF not
 * applied), at full size or reduced by `options.scaleDenominator`. The
 * jpeg-js fallback always returns full size.
 */
export async function decodeJpeg(
  bytes: Uint8Array,
  options: JpegDecodeOptions = {},
): Promise<RgbImage> {
  const denominator = options.scaleDenominator ?? 1;
  if (!JPEG_SCALE_DENOMINATORS.includes(denominator)) {
    throw new RangeError(
      `scaleDenominator must be one of ${JPEG_SCALE_DENOMINATORS.join(", ")}, got ${denominator}.`,
    );
  }
  if (denominator > 1 && options.storedSize === undefined) {
    throw new RangeError("decodeJpeg: storedSize is required when scaleDenominator is above 1.");
  }
  let wasmError: unknown;
  try {
    const request = denominator > 1 ? scaledSize(options.storedSize!, denominator) : undefined;
    return await decodeWithWasm(bytes, request);
  } catch (error) {
    wasmError = error;
  }
  try {
    return decodeWithJpegJs(bytes);
  } catch (jsError) {
    throw new ImageDecodeError(
      "invalid_image",
      `The JPEG file is corrupt or truncated (${messageOf(wasmError)}; ${messageOf(jsError)}). ` +
        "Send the complete, unmodified file.",
      { format: "jpeg", cause: jsError },
    );
  }
}

/** Size of a JPEG decoded at 1/`denominator` scale: each side divided and rounded up. */
export function scaledSize(
  size: { width: number; height: number },
  denominator: number,
): { width: number; height: number } {
  return {
    width: Math.ceil(size.width / denominator),
    height: Math.ceil(size.height / denominator),
  };
}

async function decodeWithWasm(
  bytes: Uint8Array,
  request?: { width: number; height: number },
): Promise<RgbImage> {
  const decoder = await jpegWasm.init();
  const { width, height, format, buffer } = request
    ? decoder.decode(bytes, request.width, request.height)
    : decoder.decode(bytes);
  const pixelCount = width * height;
  switch (format) {
    case WASM_GRAY:
      return { width, height, data: grayToRgb(buffer, pixelCount) };
    case WASM_RGB:
      return { width, height, data: buffer.slice(0, pixelCount * 3) };
    case WASM_CMYK:
      return { width, height, data: cmykToRgb(buffer, pixelCount) };
    default:
      throw new Error(`the WebAssembly decoder returned unknown pixel format ${format}`);
  }
}

function decodeWithJpegJs(bytes: Uint8Array): RgbImage {
  const image = jpegJs.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: true,
    // The pixel limit was checked from the header before this call. These
    // caps only keep jpeg-js's own defaults (100 MP, 512 MB) from rejecting
    // images that passed it.
    maxResolutionInMP: 1000,
    maxMemoryUsageInMB: 8192,
  });
  return { width: image.width, height: image.height, data: image.data };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
