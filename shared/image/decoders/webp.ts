/**
 * WebP decoding with @jsquash/webp 1.5.0: Google's libwebp compiled to
 * WebAssembly (from the Squoosh app), loaded once from the package files. It
 * decodes lossy, lossless and alpha WebP. libwebp's still-image API rejects
 * animations, so for an animated file the first `ANMF` frame is rewrapped as a
 * still WebP, decoded, and drawn at its offset on a transparent canvas of the
 * `VP8X` canvas size. Transparency is composited over white.
 *
 * @example
 * ```ts
 * import { decodeWebp } from "./webp.ts";
 * const stored = await decodeWebp(await Deno.readFile("photo.webp"), 50_000_000);
 * ```
 * @module
 */
import decodeWithLibwebp from "@jsquash/webp/decode.js";
import { readUint24LE } from "../bytes.ts";
import { rgbaToRgbOverWhite } from "../pixels.ts";
import { ImageDecodeError, type RgbImage } from "../types.ts";
import {
  invalidWebp,
  listRiffChunks,
  readBitstreamSize,
  readWebpHeader,
  type RiffChunk,
} from "../webp_container.ts";

/** An RGBA frame and where it sits on the canvas. */
interface PlacedFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** The `ANMF` payload header: frame x, y, width, height, duration (24 bits each) and flags. */
const ANMF_HEADER_SIZE = 16;
const VP8X_ALPHA_FLAG = 0x10;

/** Decodes a WebP file (the first frame if animated) to RGB pixels in stored orientation. */
export async function decodeWebp(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const header = readWebpHeader(bytes);
  const { width, height } = header;
  if (!header.animated) {
    const frame = await decodeStill(bytes);
    return {
      width: frame.width,
      height: frame.height,
      data: rgbaToRgbOverWhite(frame.rgba, frame.width * frame.height),
    };
  }

  const frame = await decodeFirstAnimationFrame(bytes, maxPixels);
  const canvas = new Uint8Array(width * height * 4); // transparent
  drawFrame(canvas, width, height, frame);
  return { width, height, data: rgbaToRgbOverWhite(canvas, width * height) };
}

async function decodeStill(bytes: Uint8Array): Promise<PlacedFrame> {
  let image: { width: number; height: number; data: ArrayLike<number> };
  try {
    // libwebp reads from an ArrayBuffer; copy so a view into a larger buffer is not misread.
    image = await decodeWithLibwebp(bytes.slice().buffer);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw invalidWebp(`libwebp could not decode it (${detail})`);
  }
  const rgba = new Uint8Array(image.data.length);
  rgba.set(image.data);
  return { x: 0, y: 0, width: image.width, height: image.height, rgba };
}

async function decodeFirstAnimationFrame(
  bytes: Uint8Array,
  maxPixels: number,
): Promise<PlacedFrame> {
  const anmf = listRiffChunks(bytes).find((chunk) => chunk.fourcc === "ANMF");
  if (anmf === undefined || anmf.size < ANMF_HEADER_SIZE) {
    throw invalidWebp("the animation has no complete ANMF frame");
  }
  const at = anmf.dataOffset;
  const x = 2 * readUint24LE(bytes, at)!;
  const y = 2 * readUint24LE(bytes, at + 3)!;
  const frameChunks = listRiffChunks(bytes, at + ANMF_HEADER_SIZE, at + anmf.size);
  const bitstream = frameChunks.find((chunk) => chunk.fourcc === "VP8 " || chunk.fourcc === "VP8L");
  if (bitstream === undefined) throw invalidWebp("the first ANMF frame has no VP8 or VP8L data");

  const size = readBitstreamSize(bytes, bitstream);
  if (size.width * size.height > maxPixels) {
    throw new ImageDecodeError(
      "too_many_pixels",
      `The first WebP frame is ${size.width}x${size.height} pixels, more than the limit of ` +
        `${maxPixels}. Send a smaller image.`,
      { format: "webp" },
    );
  }
  const alpha = frameChunks.find((chunk) => chunk.fourcc === "ALPH");
  const still = await decodeStill(wrapAsStill(bytes, bitstream, alpha, size));
  return { ...still, x, y };
}

/** Builds a still WebP file from one frame's bitstream chunk and optional alpha chunk. */
function wrapAsStill(
  bytes: Uint8Array,
  bitstream: RiffChunk,
  alpha: RiffChunk | undefined,
  size: { width: number; height: number },
): Uint8Array {
  const parts: Uint8Array[] = [];
  if (alpha !== undefined) {
    const vp8x = new Uint8Array(18);
    vp8x.set([0x56, 0x50, 0x38, 0x58, 10, 0, 0, 0, VP8X_ALPHA_FLAG]); // "VP8X", size 10, flags
    writeUint24LE(vp8x, 12, size.width - 1);
    writeUint24LE(vp8x, 15, size.height - 1);
    parts.push(vp8x, chunkBytes(bytes, alpha));
  }
  parts.push(chunkBytes(bytes, bitstream));

  const bodyLength = 4 + parts.reduce((sum, part) => sum + part.length, 0);
  const file = new Uint8Array(8 + bodyLength);
  file.set([0x52, 0x49, 0x46, 0x46]); // "RIFF"
  new DataView(file.buffer).setUint32(4, bodyLength, true);
  file.set([0x57, 0x45, 0x42, 0x50], 8); // "WEBP"
  let offset = 12;
  for (const part of parts) {
    file.set(part, offset);
    offset += part.length;
  }
  return file;
}

/** Returns a chunk's header, payload and padding byte. */
function chunkBytes(bytes: Uint8Array, chunk: RiffChunk): Uint8Array {
  const padded = 8 + chunk.size + (chunk.size % 2);
  const out = new Uint8Array(padded);
  out.set(bytes.subarray(chunk.offset, Math.min(chunk.offset + padded, bytes.length)));
  return out;
}

function writeUint24LE(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >> 8) & 0xff;
  target[offset + 2] = (value >> 16) & 0xff;
}

/** Copies the part of `frame` that lies inside the canvas. */
function drawFrame(canvas: Uint8Array, width: number, height: number, frame: PlacedFrame): void {
  const columns = Math.min(frame.width, width - frame.x);
  for (let row = 0; row < frame.height && frame.y + row < height; row++) {
    if (columns <= 0) break;
    const source = frame.rgba.subarray(row * frame.width * 4, (row * frame.width + columns) * 4);
    canvas.set(source, ((frame.y + row) * width + frame.x) * 4);
  }
}
