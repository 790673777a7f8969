/**
 * Parses the RIFF container of a WebP file: its chunk list, the canvas size
 * from the `VP8 `, `VP8L` or `VP8X` chunk, and the EXIF orientation from the
 * `EXIF` chunk. Layout as in Google's "WebP Container Specification": a
 * 12-byte `RIFF` size `WEBP` header, then chunks of a FourCC, a 32-bit
 * little-endian payload size and the payload, padded to an even length.
 *
 * @example
 * ```ts
 * import { readWebpHeader } from "./webp_container.ts";
 * const header = readWebpHeader(await Deno.readFile("photo.webp"));
 * console.log(header.width, header.height, header.animated);
 * ```
 * @module
 */
import { asciiAt, readUint16, readUint24LE, readUint32 } from "./bytes.ts";
import { readExifOrientation } from "./exif.ts";
import { ImageDecodeError } from "./types.ts";

/** One chunk of a RIFF file. */
export interface RiffChunk {
  /** Four-character code, for example `"VP8 "`. */
  fourcc: string;
  /** Offset of the chunk header (the FourCC) in the file. */
  offset: number;
  /** Offset of the payload in the file. */
  dataOffset: number;
  /** Payload size in bytes, without the padding byte. */
  size: number;
}

/** Canvas size as stored, orientation and animation flag of a WebP file. */
export interface WebpHeader {
  /** Canvas width in pixels, before orientation. */
  width: number;
  /** Canvas height in pixels, before orientation. */
  height: number;
  /** EXIF orientation 1..8, 1 when absent. */
  orientation: number;
  /** Whether the VP8X chunk flags an animation (ANIM and ANMF chunks). */
  animated: boolean;
}

const VP8X_ANIMATION_FLAG = 0x02;
const VP8_START_CODE = [0x9d, 0x01, 0x2a];
const VP8L_SIGNATURE = 0x2f;

/**
 * Lists the chunks after the 12-byte header. A chunk whose declared size runs
 * past the end of the file ends the list, so a truncated file yields the
 * complete chunks before the cut.
 */
export function listRiffChunks(bytes: Uint8Array, start = 12, end = bytes.length): RiffChunk[] {
  const chunks: RiffChunk[] = [];
  let offset = start;
  while (offset + 8 <= end) {
    const size = readUint32(bytes, offset + 4, true)!;
    if (offset + 8 + size > end) break;
    chunks.push({ fourcc: asciiAt(bytes, offset, 4), offset, dataOffset: offset + 8, size });
    offset += 8 + size + (size % 2);
  }
  return chunks;
}

/** Reads the canvas size and orientation; raises `invalid_image` when no image chunk is found. */
export function readWebpHeader(bytes: Uint8Array): WebpHeader {
  const chunks = listRiffChunks(bytes);
  const first = chunks[0];
  if (first === undefined) throw invalidWebp("the file ends before the first chunk");

  const exif = chunks.find((chunk) => chunk.fourcc === "EXIF");
  const orientation = exif === undefined ? 1 : readExifOrientation(exifPayload(bytes, exif));

  if (first.fourcc === "VP8X") {
    const flags = bytes[first.dataOffset];
    const width = readUint24LE(bytes, first.dataOffset + 4);
    const height = readUint24LE(bytes, first.dataOffset + 7);
    if (first.size < 10 || width === undefined || height === undefined) {
      throw invalidWebp("the VP8X chunk is shorter than 10 bytes");
    }
    return {
      width: width + 1,
      height: height + 1,
      orientation,
      animated: (flags & VP8X_ANIMATION_FLAG) !== 0,
    };
  }
  const size = readBitstreamSize(bytes, first);
  return { ...size, orientation, animated: false };
}

/** Reads the frame size from a `VP8 ` (lossy) or `VP8L` (lossless) chunk. */
export function readBitstreamSize(
  bytes: Uint8Array,
  chunk: RiffChunk,
): { width: number; height: number } {
  const at = chunk.dataOffset;
  if (chunk.fourcc === "VP8 ") {
    // Frame tag (3 bytes), start code (3 bytes), then 14-bit width and height.
    const startCode = VP8_START_CODE.every((value, i) => bytes[at + 3 + i] === value);
    const width = readUint16(bytes, at + 6, true);
    const height = readUint16(bytes, at + 8, true);
    if (!startCode || width === undefined || height === undefined) {
      throw invalidWebp("the VP8 chunk has no key frame header");
    }
    return { width: width & 0x3fff, height: height & 0x3fff };
  }
  if (chunk.fourcc === "VP8L") {
    const bits = readUint32(bytes, at + 1, true);
    if (bytes[at] !== VP8L_SIGNATURE || bits === undefined) {
      throw invalidWebp("the VP8L chunk has no valid signature");
    }
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  throw invalidWebp(`expected a VP8, VP8L or VP8X chunk first, found "${chunk.fourcc}"`);
}

/** Returns the TIFF structure of an EXIF chunk, skipping an `Exif\0\0` prefix that some writers add. */
function exifPayload(bytes: Uint8Array, chunk: RiffChunk): Uint8Array {
  const payload = bytes.subarray(chunk.dataOffset, chunk.dataOffset + chunk.size);
  return asciiAt(payload, 0, 6) === "Exif\0\0" ? payload.subarray(6) : payload;
}

/** Creates the `invalid_image` error for a WebP file. */
export function invalidWebp(detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The WebP file is corrupt or truncated: ${detail}. Send the complete, unmodified file.`,
    { format: "webp" },
  );
}
