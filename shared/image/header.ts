/**
 * Reads an image's format, size and EXIF orientation from its header without
 * decoding pixels, so a pixel limit can be enforced before any large
 * allocation. JPEG, WebP and HEIC have their own parsers (`jpeg_header.ts`,
 * `webp_container.ts`, `heif_header.ts`); PNG, GIF, TIFF and BMP headers are
 * read here.
 *
 * @example
 * ```ts
 * import { readImageHeader } from "./header.ts";
 * const header = readImageHeader(await Deno.readFile("photo.jpg"));
 * console.log(header.format, header.width, header.height, header.orientation);
 * ```
 * @module
 */
import { asciiAt, readUint16, readUint32 } from "./bytes.ts";
import { readExifOrientation } from "./exif.ts";
import { readHeifHeader } from "./heif_header.ts";
import { readJpegHeader } from "./jpeg_header.ts";
import { sniffFormat } from "./sniff.ts";
import {
  ImageDecodeError,
  type ImageFormat,
  type ImageHeader,
  SUPPORTED_FORMATS,
} from "./types.ts";
import { readWebpHeader } from "./webp_container.ts";

/** Size as stored, before orientation. */
interface StoredHeader {
  width: number;
  height: number;
  orientation: number;
}

/**
 * Reads format, displayed size and orientation. Raises
 * {@linkcode ImageDecodeError} with code `empty_image` for 0 bytes,
 * `unsupported_format` for unrecognized bytes and for SVG (a vector format
 * with no pixel size), and `invalid_image` when the header is truncated or
 * malformed.
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length === 0) {
    throw new ImageDecodeError("empty_image", "The image is empty (0 bytes). Send a photo file.");
  }
  const format = sniffFormat(bytes);
  if (format === null) throw unrecognizedFormat(bytes);

  const stored = readStoredHeader(bytes, format);
  const swapped = stored.orientation >= 5;
  return {
    format,
    width: swapped ? stored.height : stored.width,
    height: swapped ? stored.width : stored.height,
    orientation: stored.orientation,
  };
}

function readStoredHeader(bytes: Uint8Array, format: ImageFormat): StoredHeader {
  switch (format) {
    case "jpeg":
      return readJpegHeader(bytes);
    case "png":
      return readPngHeader(bytes);
    case "gif":
      return readGifHeader(bytes);
    case "webp":
      return readWebpHeader(bytes);
    case "heic":
      return { ...readHeifHeader(bytes), orientation: 1 };
    case "tiff":
      return readTiffHeader(bytes);
    case "bmp":
      return readBmpHeader(bytes);
    case "svg":
      throw new ImageDecodeError(
        "unsupported_format",
        "SVG is a vector drawing, not a photo. Send a JPEG or PNG photo.",
        { format },
      );
  }
}

/** Reads the size from IHDR and the orientation from an `eXIf` chunk, when present. */
function readPngHeader(bytes: Uint8Array): StoredHeader {
  if (asciiAt(bytes, 12, 4) !== "IHDR") throw invalidHeader("png", "the IHDR chunk is missing");
  const width = readUint32(bytes, 16, false);
  const height = readUint32(bytes, 20, false);
  if (width === undefined || height === undefined) {
    throw invalidHeader("png", "the file ends inside the IHDR chunk");
  }
  checkNonZero("png", width, height);
  return { width, height, orientation: readPngOrientation(bytes) };
}

function readPngOrientation(bytes: Uint8Array): number {
  let offset = 8;
  while (offset + 8 <= bytes.length) {
    const length = readUint32(bytes, offset, false)!;
    const type = asciiAt(bytes, offset + 4, 4);
    if (type === "IEND" || offset + 12 + length > bytes.length) return 1;
    if (type === "eXIf") {
      return readExifOrientation(bytes.subarray(offset + 8, offset + 8 + length));
    }
    offset += 12 + length; // length, type, data, CRC
  }
  return 1;
}

/** Reads the logical screen size; the GIF decoder checks the first frame's size too. */
function readGifHeader(bytes: Uint8Array): StoredHeader {
  const width = readUint16(bytes, 6, true);
  const height = readUint16(bytes, 8, true);
  if (width === undefined || height === undefined) {
    throw invalidHeader("gif", "the file ends inside the logical screen descriptor");
  }
  checkNonZero("gif", width, height);
  return { width, height, orientation: 1 };
}

/** ImageWidth (256), ImageLength (257) and Orientation (274) from IFD0. */
function readTiffHeader(bytes: Uint8Array): StoredHeader {
  const littleEndian = bytes[0] === 0x49;
  const ifd = readUint32(bytes, 4, littleEndian);
  const count = ifd === undefined ? undefined : readUint16(bytes, ifd, littleEndian);
  if (ifd === undefined || count === undefined) {
    throw invalidHeader("tiff", "the first image file directory (IFD0) is missing");
  }
  let width = 0;
  let height = 0;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + 12 * i;
    const tag = readUint16(bytes, entry, littleEndian);
    const type = readUint16(bytes, entry + 2, littleEndian);
    if (tag === undefined || type === undefined) break;
    // Type 3 is SHORT and 4 is LONG; either may hold the size.
    const value = type === 3
      ? readUint16(bytes, entry + 8, littleEndian)
      : readUint32(bytes, entry + 8, littleEndian);
    if (tag === 256) width = value ?? 0;
    if (tag === 257) height = value ?? 0;
  }
  checkNonZero("tiff", width, height);
  return { width, height, orientation: readExifOrientation(bytes) };
}

/** BITMAPCOREHEADER (12 bytes) has 16-bit sizes; later headers have signed 32-bit ones. */
function readBmpHeader(bytes: Uint8Array): StoredHeader {
  const infoSize = readUint32(bytes, 14, true);
  let width: number | undefined;
  let height: number | undefined;
  if (infoSize === 12) {
    width = readUint16(bytes, 18, true);
    height = readUint16(bytes, 20, true);
  } else {
    width = readUint32(bytes, 18, true);
    height = readUint32(bytes, 22, true);
    // A negative height (two's complement) marks a top-down bitmap.
    if (height !== undefined) height = Math.abs(height | 0);
    if (width !== undefined) width = width | 0;
  }
  if (width === undefined || height === undefined || width < 0) {
    throw invalidHeader("bmp", "the bitmap header is truncated or has a negative width");
  }
  checkNonZero("bmp", width, height);
  return { width, height, orientation: 1 };
}

function checkNonZero(format: ImageFormat, width: number, height: number): void {
  if (width === 0 || height === 0) {
    throw invalidHeader(format, `the header gives a size of ${width}x${height}`);
  }
}

function invalidHeader(format: ImageFormat, detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The ${formatName(format)} file is corrupt or truncated: ${detail}. ` +
      "Send the complete, unmodified file.",
    { format },
  );
}

/** Creates the error for bytes that match no known format, quoting their first bytes. */
export function unrecognizedFormat(bytes: Uint8Array): ImageDecodeError {
  const firstBytes = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
  return new ImageDecodeError(
    "unsupported_format",
    `The data is not a recognized image (it starts with bytes ${firstBytes.join(" ")}). ` +
      `Send a photo in one of these formats: ${formatList()}. ` +
      "The file name and Content-Type are not used to detect the format.",
  );
}

/** Returns the supported formats as a readable list, for error messages. */
export function formatList(): string {
  return SUPPORTED_FORMATS.map(formatName).join(", ");
}

const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: "JPEG",
  png: "PNG",
  gif: "GIF",
  webp: "WebP",
  heic: "HEIC",
  tiff: "TIFF",
  bmp: "BMP",
  svg: "SVG",
};

/** Returns the usual spelling of a format's name, for messages: "WebP", "JPEG". */
export function formatName(format: ImageFormat): string {
  return FORMAT_NAMES[format];
}
