/**
 * HEIC decoding with libheif-js 1.23.2: libheif and libde265 compiled to
 * WebAssembly, with the module embedded in `wasm-bundle.js`, so nothing is
 * read from disk or the network. It is about 2 MB of JavaScript, so it is
 * imported on the first HEIC file only. libheif applies the container's
 * rotation, mirror and crop properties (`irot`, `imir`, `clap`) itself, and
 * composites nothing: alpha, when present, is composited over white here.
 *
 * NOTE: libheif-js keeps one WebAssembly instance per process (or worker). A
 * trap inside it raises a catchable error, but later HEIC decodes in the same
 * process could then fail; run untrusted uploads through `DecoderPool`, whose
 * workers can be replaced.
 *
 * @example
 * ```ts
 * import { decodeHeic } from "./heic.ts";
 * const image = await decodeHeic(await Deno.readFile("photo.heic"), 50_000_000);
 * ```
 * @module
 */
import { rgbaToRgbOverWhite } from "../pixels.ts";
import { ImageDecodeError, type RgbImage } from "../types.ts";

/** The parts of libheif-js's API used here. */
interface HeifImage {
  is_primary(): boolean;
  get_width(): number;
  get_height(): number;
  display(
    target: { data: Uint8ClampedArray; width: number; height: number },
    done: (result: { data: Uint8ClampedArray } | null) => void,
  ): void;
  free(): void;
}

interface Libheif {
  HeifDecoder: new () => { decoder?: { delete(): void }; decode(bytes: Uint8Array): HeifImage[] };
}

let libheifPromise: Promise<Libheif> | undefined;

function loadLibheif(): Promise<Libheif> {
  libheifPromise ??= import("libheif-js/wasm-bundle.js").then((module) =>
    module.default as Libheif
  );
  return libheifPromise;
}

/**
 * Decodes the primary image of a HEIC file, with its rotation and mirror
 * applied. The size libheif reports is checked against `maxPixels` before
 * pixels are decoded.
 */
export async function decodeHeic(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const libheif = await loadLibheif();
  const decoder = new libheif.HeifDecoder();
  let images: HeifImage[] = [];
  try {
    images = decoder.decode(bytes);
    const primary = images.find((image) => image.is_primary()) ?? images[0];
    if (primary === undefined) throw invalidHeic("libheif found no image in the file");

    const width = primary.get_width();
    const height = primary.get_height();
    if (width * height > maxPixels) {
      throw new ImageDecodeError(
        "too_many_pixels",
        `The HEIC image is ${width}x${height} pixels, more than the limit of ${maxPixels}. ` +
          "Send a smaller image.",
        { format: "heic" },
      );
    }
    const rgba = await display(primary, width, height);
    return { width, height, data: rgbaToRgbOverWhite(rgba, width * height) };
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    throw invalidHeic(error instanceof Error ? error.message : String(error));
  } finally {
    for (const image of images) image.free();
    decoder.decoder?.delete();
  }
}

function display(image: HeifImage, width: number, height: number): Promise<Uint8ClampedArray> {
  return new Promise((resolve, reject) => {
    const target = { data: new Uint8ClampedArray(width * height * 4), width, height };
    image.display(target, (result) => {
      if (result === null) reject(invalidHeic("libheif could not decode the image data"));
      else resolve(result.data);
    });
  });
}

function invalidHeic(detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The HEIC file is corrupt, truncated or uses a feature the decoder lacks (${detail}). ` +
      "Send the photo as JPEG.",
    { format: "heic" },
  );
}
