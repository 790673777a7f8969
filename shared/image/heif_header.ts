/**
 * Reads the size of the primary image of a HEIF/HEIC file from its ISOBMFF
 * boxes (ISO/IEC 14496-12 and 23008-12): `meta` > `pitm` names the primary
 * item, `meta` > `iprp` > `ipma` lists the properties of each item, and the
 * `ispe` property in `ipco` gives the coded width and height. An `irot`
 * property with an odd number of quarter turns swaps them, as the decoder
 * applies it.
 *
 * @example
 * ```ts
 * import { readHeifHeader } from "./heif_header.ts";
 * const { width, height } = readHeifHeader(await Deno.readFile("photo.heic"));
 * ```
 * @module
 */
import { asciiAt, readUint16, readUint32 } from "./bytes.ts";
import { ImageDecodeError } from "./types.ts";

/** A box: its type and the byte range of its payload. */
interface Box {
  type: string;
  start: number;
  end: number;
}

/** Size of the primary image after its rotation property is applied. */
export interface HeifHeader {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Reads the primary image size; raises `invalid_image` when the boxes that
 * give it are missing or truncated.
 *
 * NOTE: a `clap` (clean aperture) property, which crops the decoded image, is
 * not applied, so the size can exceed the decoded one. That errs on the safe
 * side for a pixel limit.
 */
export function readHeifHeader(bytes: Uint8Array): HeifHeader {
  const meta = findBox(listBoxes(bytes, 0, bytes.length), "meta");
  // `meta` is a full box: 4 bytes of version and flags precede its children.
  const metaChildren = listBoxes(bytes, meta.start + 4, meta.end);
  const primaryId = readPrimaryItemId(bytes, findBox(metaChildren, "pitm"));
  const iprp = childrenOf(bytes, findBox(metaChildren, "iprp"));
  const properties = childrenOf(bytes, findBox(iprp, "ipco"));
  const indexes = readAssociations(bytes, findBox(iprp, "ipma"), primaryId);

  const associated = indexes.map((index) => properties[index - 1]).filter((box) => box);
  const ispe = associated.find((box) => box.type === "ispe");
  if (ispe === undefined) throw invalidHeif("the primary image has no ispe (size) property");
  const width = readUint32(bytes, ispe.start + 4, false);
  const height = readUint32(bytes, ispe.start + 8, false);
  if (width === undefined || height === undefined || width === 0 || height === 0) {
    throw invalidHeif("the ispe (size) property is truncated or zero");
  }

  const irot = associated.find((box) => box.type === "irot");
  const quarterTurns = irot === undefined ? 0 : bytes[irot.start] & 0x03;
  return quarterTurns % 2 === 1 ? { width: height, height: width } : { width, height };
}

/** Lists the boxes in `[start, end)`; a box that runs past `end` raises `invalid_image`. */
function listBoxes(bytes: Uint8Array, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  let offset = start;
  while (offset + 8 <= end) {
    let size = readUint32(bytes, offset, false)!;
    const type = asciiAt(bytes, offset + 4, 4);
    let headerSize = 8;
    if (size === 1) {
      // A 64-bit size follows the type; sizes over 2^32 are far beyond any photo.
      const high = readUint32(bytes, offset + 8, false);
      const low = readUint32(bytes, offset + 12, false);
      if (high === undefined || low === undefined || high !== 0) {
        throw invalidHeif(`the "${type}" box has an invalid 64-bit size`);
      }
      size = low;
      headerSize = 16;
    } else if (size === 0) {
      size = end - offset; // the box extends to the end of the file
    }
    if (size < headerSize || offset + size > end) {
      if (type === "mdat") break; // truncated image data does not hide the header
      throw invalidHeif(`the "${type}" box at byte ${offset} runs past the end of its container`);
    }
    boxes.push({ type, start: offset + headerSize, end: offset + size });
    offset += size;
  }
  return boxes;
}

function childrenOf(bytes: Uint8Array, box: Box): Box[] {
  return listBoxes(bytes, box.start, box.end);
}

function findBox(boxes: Box[], type: string): Box {
  const box = boxes.find((candidate) => candidate.type === type);
  if (box === undefined) throw invalidHeif(`the "${type}" box is missing`);
  return box;
}

function readPrimaryItemId(bytes: Uint8Array, pitm: Box): number {
  const version = bytes[pitm.start];
  const id = version === 0
    ? readUint16(bytes, pitm.start + 4, false)
    : readUint32(bytes, pitm.start + 4, false);
  if (id === undefined) throw invalidHeif("the pitm (primary item) box is truncated");
  return id;
}

/** Returns the 1-based `ipco` property indexes associated with `itemId`. */
function readAssociations(bytes: Uint8Array, ipma: Box, itemId: number): number[] {
  const version = bytes[ipma.start];
  const wideIndexes = (bytes[ipma.start + 3] & 0x01) !== 0;
  const entryCount = readUint32(bytes, ipma.start + 4, false) ?? 0;
  let offset = ipma.start + 8;
  for (let entry = 0; entry < entryCount && offset < ipma.end; entry++) {
    const id = version < 1 ? readUint16(bytes, offset, false) : readUint32(bytes, offset, false);
    offset += version < 1 ? 2 : 4;
    const count = bytes[offset++] ?? 0;
    const indexes: number[] = [];
    for (let i = 0; i < count; i++) {
      if (wideIndexes) {
        indexes.push((readUint16(bytes, offset, false) ?? 0) & 0x7fff);
        offset += 2;
      } else {
        indexes.push((bytes[offset] ?? 0) & 0x7f);
        offset += 1;
      }
    }
    if (id === itemId) return indexes;
  }
  throw invalidHeif(`the ipma box lists no properties for the primary item ${itemId}`);
}

function invalidHeif(detail: string): ImageDecodeError {
  return new ImageDecodeError(
    "invalid_image",
    `The HEIC file is corrupt or truncated: ${detail}. Send the complete file, or a JPEG.`,
    { format: "heic" },
  );
}
