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

/** Decodes a JPEG file to RGB pixels in stored orientation (EXIF not applied). */
export async function decodeJpeg(bytes: Uint8Array): Promise<RgbImage> {
  let wasmError: unknown;
  try {
    return await decodeWithWasm(bytes);
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

async function decodeWithWasm(bytes: Uint8Array): Promise<RgbImage> {
  const decoder = await jpegWasm.init();
  const { width, height, format, buffer } = decoder.decode(bytes);
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
