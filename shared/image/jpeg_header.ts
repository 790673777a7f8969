/**
 * Walks the marker segments of a JPEG file up to the first start-of-frame
 * (SOF) marker, which contains the frame size, and reads the EXIF orientation
 * from the first APP1 `Exif` segment on the way. No entropy-coded data is
 * read, so this costs microseconds whatever the image size.
 *
 * @example
 * ```ts
 * import { readJpegHeader } from "./jpeg_header.ts";
 * const bytes = await Deno.readFile("photo.jpg");
 * const { width, height, orientation } = readJpegHeader(bytes);
 * ```
 * @module
 */
import { asciiAt, readUint16 } from "./bytes.ts";
import { readExifOrientation } from "./exif.ts";
import { ImageDecodeError } from "./types.ts";

/** Frame size as stored (before orientation) and the EXIF orientation. */
export interface JpegHeader {
  /** Stored width in pixels. */
  width: number;
  /** Stored height in pixels. */
  height: number;
  /** EXIF orientation 1..8, 1 when absent. */
  orientation: number;
}

const APP1 = 0xe1;
const SOS = 0xda;
const EOI = 0xd9;

/** Reads the stored frame size and orientation; raises `invalid_image` when no SOF precedes the scan data. */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  let orientation = 1;
  let exifSeen = false;
  let offset = 2; // after SOI (FF D8)

  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw invalidJpeg(`expected a marker at byte ${offset}, found 0x${hex(bytes[offset])}`);
    }
    // Any number of 0xFF fill bytes may precede the marker code.
    while (bytes[offset] === 0xff && offset < bytes.length) offset++;
    if (offset >= bytes.length) break;
    const marker = bytes[offset++];

    if (isStandaloneMarker(marker)) continue;
    if (marker === SOS || marker === EOI) {
      throw invalidJpeg("the scan data starts before any start-of-frame (SOF) marker");
    }
    const length = readUint16(bytes, offset, false);
    if (length === undefined || length < 2) break;

    if (isStartOfFrame(marker)) return readFrameSize(bytes, offset, orientation);
    if (marker === APP1 && !exifSeen && asciiAt(bytes, offset + 2, 6) === "Exif\0\0") {
      exifSeen = true;
      const end = Math.min(offset + length, bytes.length);
      orientation = readExifOrientation(bytes.subarray(offset + 8, end));
    }
    offset += length;
  }
  throw invalidJpeg("the file ends before the start-of-frame (SOF) marker that gives its size");
}

function readFrameSize(bytes: Uint8Array, offset: number, orientation: number): JpegHeader {
  // Segment: length (2), sample precision (1), number of lines (2), samples per line (2).
  const height = readUint16(bytes, offset + 3, false);
  const width = readUint16(bytes, offset + 5, false);
  if (width === undefined || height === undefined) {
    throw invalidJpeg("the file ends inside the start-of-frame (SOF) segment");
  }
  if (width === 0 || height === 0) {
    throw invalidJpeg(
      `the frame size is ${width}x${height}; a zero height set later by a DNL marker is not supported`,
    );
  }
  return { width, height, orientation };
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
    marker !== 0xcc;
}

/** Markers with no length field: TEM, RST0..RST7 and SOI. */
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);
}

function invalidJpeg(detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The JPEG file is corrupt or truncated: ${detail}. Send the complete, unmodified file.`,
    { format: "jpeg" },
  );
}

function hex(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, "0");
}
