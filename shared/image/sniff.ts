/**
 * Recognizes an image format from its magic bytes. File names and
 * Content-Type headers are never consulted, because clients get both wrong.
 *
 * @example
 * ```ts
 * import { sniffFormat } from "./sniff.ts";
 * const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
 * console.log(sniffFormat(png)); // "png"
 * ```
 * @module
 */
import { asciiAt, readUint32 } from "./bytes.ts";
import type { ImageFormat } from "./types.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** ISOBMFF brands of HEIF files whose images are HEVC-coded (HEIC). */
const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);
/** Generic HEIF brands, which AVIF files carry too; the compatible brands decide. */
const HEIF_GENERIC_BRANDS = new Set(["mif1", "msf1", "mif2"]);

/** BITMAPINFOHEADER sizes that BMP versions 2 to 5 (and OS/2 2.x) use. */
const BMP_INFO_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/**
 * Returns the format whose magic bytes start `bytes`, or `null` when none
 * matches (text, random bytes, AVIF and every other format not listed in
 * {@linkcode ImageFormat}).
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, PNG_SIGNATURE)) return "png";
  if (asciiAt(bytes, 0, 6) === "GIF87a" || asciiAt(bytes, 0, 6) === "GIF89a") return "gif";
  if (asciiAt(bytes, 0, 4) === "RIFF" && asciiAt(bytes, 8, 4) === "WEBP") return "webp";
  if (isHeic(bytes)) return "heic";
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return "tiff";
  }
  if (isBmp(bytes)) return "bmp";
  if (isSvg(bytes)) return "svg";
  return null;
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((value, i) => bytes[i] === value);
}

/** Checks the `ftyp` box: a HEIC brand, or a generic HEIF brand listing a HEIC brand. */
function isHeic(bytes: Uint8Array): boolean {
  if (asciiAt(bytes, 4, 4) !== "ftyp") return false;
  const boxSize = readUint32(bytes, 0, false) ?? 0;
  if (boxSize < 16 || boxSize > bytes.length) return false;
  const major = asciiAt(bytes, 8, 4);
  const compatible: string[] = [];
  for (let offset = 16; offset + 4 <= boxSize; offset += 4) {
    compatible.push(asciiAt(bytes, offset, 4));
  }
  if (HEIC_BRANDS.has(major)) return true;
  if (
    !HEIF_GENERIC_BRANDS.has(major) && !compatible.some((brand) => HEIF_GENERIC_BRANDS.has(brand))
  ) {
    return false;
  }
  return compatible.some((brand) => HEIC_BRANDS.has(brand));
}

function isBmp(bytes: Uint8Array): boolean {
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) return false;
  const infoHeaderSize = readUint32(bytes, 14, true) ?? 0;
  return BMP_INFO_HEADER_SIZES.has(infoHeaderSize);
}

/** Looks for an `<svg` root after an optional BOM, XML declaration, comments or DOCTYPE. */
function isSvg(bytes: Uint8Array): boolean {
  const head = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, 4096));
  const trimmed = head.replace(/^\uFEFF/, "").trimStart();
  if (!trimmed.startsWith("<")) return false;
  return /^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]/i.test(trimmed);
}
