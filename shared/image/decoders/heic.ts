/**
 * HEIC decoding with libheif-js 1.23.2: libheif and libde265 compiled to
 * WebAssembly, with the module embedded in `libheif-wasm/libheif-bundle.js`,
 * so nothing is read from disk or the network. It is about 2 MB of JavaScript, so it is
 * imported on the first HEIC file only. libheif applies the container's
 * rotation, mirror and crop properties (`irot`, `imir`, `clap`) itself, and
 * composites nothing: alpha, when present, is composited over white here.
 *
 * libheif-js's module factory is called here instead of importing its
 * ready-made singleton, so that after a trap inside WebAssembly (a
 * `WebAssembly.RuntimeError`, which may leave the instance's memory
 * inconsistent) the instance is dropped and the next HEIC file gets a new one.
 * Pixels are fetched with `heif_js_decode_image2` directly rather than
 * through `HeifImage.display`, which runs it in a timer where a trap would
 * become an unhandled rejection and end the process.
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
  handle: unknown;
  is_primary(): boolean;
  get_width(): number;
  get_height(): number;
  free(): void;
}

interface DecodedPlanes {
  code?: number;
  image: unknown;
  channels: { id: number; width: number; height: number; stride: number; data: Uint8Array }[];
}

interface Libheif {
  HeifDecoder: new () => { decoder?: { delete(): void }; decode(bytes: Uint8Array): HeifImage[] };
  heif_js_decode_image2(
    handle: unknown,
    colorspace: number,
    chroma: number,
  ): Promise<DecodedPlanes>;
  heif_image_release(image: unknown): void;
  heif_colorspace: { heif_colorspace_RGB: number };
  heif_chroma: { heif_chroma_interleaved_RGBA: number };
  heif_channel: { heif_channel_interleaved: number };
}

type LibheifFactory = () => Libheif;

let factoryPromise: Promise<LibheifFactory> | undefined;
let instance: Libheif | undefined;

async function loadLibheif(): Promise<Libheif> {
  factoryPromise ??= import("libheif-js/libheif-wasm/libheif-bundle.js").then((module) =>
    module.default as LibheifFactory
  );
  const factory = await factoryPromise;
  instance ??= factory();
  return instance;
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
    const rgba = await decodeRgba(libheif, primary, width, height);
    return { width, height, data: rgbaToRgbOverWhite(rgba, width * height) };
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    if (error instanceof WebAssembly.RuntimeError) instance = undefined;
    throw invalidHeic(error instanceof Error ? error.message : String(error));
  } finally {
    for (const image of images) image.free();
    decoder.decoder?.delete();
  }
}

/** Decodes a handle to interleaved RGBA, removing any row padding. */
async function decodeRgba(
  libheif: Libheif,
  image: HeifImage,
  width: number,
  height: number,
): Promise<Uint8Array> {
  const planes = await libheif.heif_js_decode_image2(
    image.handle,
    libheif.heif_colorspace.heif_colorspace_RGB,
    libheif.heif_chroma.heif_chroma_interleaved_RGBA,
  );
  if (!planes || planes.code) throw invalidHeic("libheif could not decode the image data");
  try {
    const plane = planes.channels.find((channel) =>
      channel.id === libheif.heif_channel.heif_channel_interleaved
    );
    if (plane === undefined || plane.width !== width || plane.height !== height) {
      throw invalidHeic("libheif returned no RGBA plane of the announced size");
    }
    const rgba = new Uint8Array(width * height * 4);
    for (let row = 0; row < height; row++) {
      const start = row * plane.stride;
      rgba.set(plane.data.subarray(start, start + width * 4), row * width * 4);
    }
    return rgba;
  } finally {
    libheif.heif_image_release(planes.image);
  }
}

function invalidHeic(detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The HEIC file is corrupt, truncated or uses a feature the decoder lacks (${detail}). ` +
      "Send the photo as JPEG.",
    { format: "heic" },
  );
}
