/**
 * Reads the Orientation tag (0x0112) from IFD0 of an EXIF block. The block is
 * a TIFF structure, in either byte order: "II" (little-endian) or "MM"
 * (big-endian), the magic number 42, then the offset of IFD0 and its
 * 12-byte entries. JPEG carries it in an APP1 segment after `Exif\0\0`, PNG in
 * an `eXIf` chunk and WebP in an `EXIF` chunk.
 *
 * @example
 * ```ts
 * import { readExifOrientation } from "./exif.ts";
 * // Little-endian TIFF header, IFD0 at offset 8 with one entry: Orientation = 6.
 * const tiff = new Uint8Array([
 *   0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00,
 *   0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
 * ]);
 * console.log(readExifOrientation(tiff)); // 6
 * ```
 * @module
 */
import { readUint16, readUint32 } from "./bytes.ts";

const ORIENTATION_TAG = 0x0112;
const TYPE_SHORT = 3;
const IFD_ENTRY_SIZE = 12;

/**
 * Returns the EXIF orientation (1 to 8) stored in a TIFF-structured block, or
 * 1 when the block is malformed, lacks the tag or holds a value outside 1..8,
 * which is how browsers and libjpeg-based tools treat such files.
 */
export function readExifOrientation(tiff: Uint8Array): number {
  const littleEndian = byteOrder(tiff);
  if (littleEndian === undefined) return 1;
  if (readUint16(tiff, 2, littleEndian) !== 42) return 1;

  const ifdOffset = readUint32(tiff, 4, littleEndian);
  if (ifdOffset === undefined) return 1;
  const entryCount = readUint16(tiff, ifdOffset, littleEndian);
  if (entryCount === undefined) return 1;

  for (let i = 0; i < entryCount; i++) {
    const entry = ifdOffset + 2 + i * IFD_ENTRY_SIZE;
    const tag = readUint16(tiff, entry, littleEndian);
    if (tag === undefined) return 1;
    if (tag !== ORIENTATION_TAG) continue;
    if (readUint16(tiff, entry + 2, littleEndian) !== TYPE_SHORT) return 1;
    // A SHORT value with count 1 sits in the first two bytes of the value field.
    const value = readUint16(tiff, entry + 8, littleEndian);
    return value !== undefined && value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

function byteOrder(tiff: Uint8Array): boolean | undefined {
  if (tiff[0] === 0x49 && tiff[1] === 0x49) return true;
  if (tiff[0] === 0x4d && tiff[1] === 0x4d) return false;
  return undefined;
}
