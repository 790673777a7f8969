/**
 * Bounds-checked readers of big- and little-endian integers and ASCII tags in
 * a byte array, used by the header parsers. Every reader returns `undefined`
 * past the end of the array instead of reading garbage, so a truncated file
 * is detected where it is parsed.
 *
 * @example
 * ```ts
 * import { readUint16 } from "./bytes.ts";
 * console.log(readUint16(new Uint8Array([0x01, 0x02]), 0, false)); // 258
 * ```
 * @module
 */

/** Reads an unsigned 16-bit integer, little-endian when `littleEndian` is true. */
export function readUint16(
  bytes: Uint8Array,
  offset: number,
  littleEndian: boolean,
): number | undefined {
  if (offset < 0 || offset + 2 > bytes.length) return undefined;
  const a = bytes[offset];
  const b = bytes[offset + 1];
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}

/** Reads an unsigned 24-bit little-endian integer, the size field of WebP's VP8X chunk. */
export function readUint24LE(bytes: Uint8Array, offset: number): number | undefined {
  if (offset < 0 || offset + 3 > bytes.length) return undefined;
  return bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16);
}

/** Reads an unsigned 32-bit integer, little-endian when `littleEndian` is true. */
export function readUint32(
  bytes: Uint8Array,
  offset: number,
  littleEndian: boolean,
): number | undefined {
  if (offset < 0 || offset + 4 > bytes.length) return undefined;
  const [a, b, c, d] = [bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]];
  const value = littleEndian ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) |
    (c << 8) | d;
  return value >>> 0;
}

/** Reads `length` bytes at `offset` as Latin-1 text, or "" when they are out of range. */
export function asciiAt(bytes: Uint8Array, offset: number, length: number): string {
  if (offset < 0 || offset + length > bytes.length) return "";
  let text = "";
  for (let i = offset; i < offset + length; i++) text += String.fromCharCode(bytes[i]);
  return text;
}
