/**
 * A minimal reader for zip archives whose entries are stored uncompressed, as
 * in the files that `torch.save` writes (PyTorch >= 1.6).
 *
 * It reads the central directory (zip64 records included), checks each local
 * header and the CRC-32 of the data it returns, and rejects compressed or
 * encrypted entries with a {@linkcode TorchCheckpointError}.
 *
 * @example
 * ```ts
 * import { readZipEntries, readZipEntryData } from "./zip.ts";
 * const bytes = await Deno.readFile("model.pth");
 * const entries = readZipEntries(bytes, "model.pth");
 * const version = readZipEntryData(bytes, entries.get("archive/version")!, "model.pth");
 * ```
 * @module
 */
import { TorchCheckpointError } from "./errors.ts";

/** One file of a zip archive, as listed in its central directory. */
export interface ZipEntry {
  /** Path inside the archive, with `/` separators. */
  name: string;
  /** Compression method: 0 is stored (uncompressed), 8 is deflate. */
  method: number;
  /** General purpose bit flags; bit 0 marks encryption. */
  flags: number;
  /** CRC-32 of the uncompressed data. */
  crc32: number;
  /** Size of the data in the archive, in bytes. */
  compressedSize: number;
  /** Size of the uncompressed data, in bytes. */
  size: number;
  /** Byte offset of the entry's local header. */
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const MAX_COMMENT_BYTES = 0xffff;

/** Returns whether the bytes start with a zip local file header ("PK\x03\x04"). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Lists the entries of a zip archive by name, from its central directory.
 *
 * @throws {TorchCheckpointError} when the end-of-central-directory record is
 * missing (a truncated file), or a directory record is corrupt.
 */
export function readZipEntries(bytes: Uint8Array, source: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { count, directoryOffset, directorySize } = readDirectoryLocation(view, source);
  if (directoryOffset + directorySize > bytes.byteLength) {
    throw new TorchCheckpointError(
      `${source} is truncated: its zip central directory ends at byte ` +
        `${directoryOffset + directorySize}, past the end of the ${bytes.byteLength}-byte file.`,
    );
  }

  const entries = new Map<string, ZipEntry>();
  let pos = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (pos + 46 > bytes.byteLength || view.getUint32(pos, true) !== CENTRAL_HEADER_SIGNATURE) {
      throw new TorchCheckpointError(
        `${source} is corrupt: zip central directory record ${i} at byte ${pos} is invalid.`,
      );
    }
    const nameLength = view.getUint16(pos + 28, true);
    const extraLength = view.getUint16(pos + 30, true);
    const commentLength = view.getUint16(pos + 32, true);
    const nameStart = pos + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > bytes.byteLength) {
      throw new TorchCheckpointError(`${source} is truncated inside its zip central directory.`);
    }
    const entry: ZipEntry = {
      name: new TextDecoder().decode(bytes.subarray(nameStart, extraStart)),
      flags: view.getUint16(pos + 8, true),
      method: view.getUint16(pos + 10, true),
      crc32: view.getUint32(pos + 16, true),
      compressedSize: view.getUint32(pos + 20, true),
      size: view.getUint32(pos + 24, true),
      localHeaderOffset: view.getUint32(pos + 42, true),
    };
    const extra = new DataView(bytes.buffer, bytes.byteOffset + extraStart, extraLength);
    applyZip64Extra(entry, extra, source);
    entries.set(entry.name, entry);
    pos = next;
  }
  return entries;
}

/**
 * Returns the data of one stored entry as a view into `bytes`, after checking
 * its local header and CRC-32.
 *
 * @throws {TorchCheckpointError} when the entry is compressed or encrypted, runs
 * past the end of the file, or its CRC-32 does not match.
 */
export function readZipEntryData(bytes: Uint8Array, entry: ZipEntry, source: string): Uint8Array {
  if (entry.flags & 0x1) {
    throw new TorchCheckpointError(
      `${source}: zip entry "${entry.name}" is encrypted, which is not supported.`,
    );
  }
  if (entry.method !== 0 || entry.compressedSize !== entry.size) {
    throw new TorchCheckpointError(
      `${source}: zip entry "${entry.name}" is compressed (method ${entry.method}), but only ` +
        `stored entries are supported, as torch.save writes them. Save the file with ` +
        `torch.save again instead of re-zipping it.`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = entry.localHeaderOffset;
  if (header + 30 > bytes.byteLength || view.getUint32(header, true) !== LOCAL_HEADER_SIGNATURE) {
    throw new TorchCheckpointError(
      `${source} is corrupt: the local header of zip entry "${entry.name}" at byte ${header} is invalid.`,
    );
  }
  const start = header + 30 + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
  const end = start + entry.size;
  if (end > bytes.byteLength) {
    throw new TorchCheckpointError(
      `${source} is truncated: zip entry "${entry.name}" ends at byte ${end}, past the end of ` +
        `the ${bytes.byteLength}-byte file. Copy the file again.`,
    );
  }

  const data = bytes.subarray(start, end);
  const actual = crc32(data);
  if (actual !== entry.crc32) {
    throw new TorchCheckpointError(
      `${source} is corrupt: zip entry "${entry.name}" has CRC-32 ${hex32(actual)}, but the ` +
        `archive records ${hex32(entry.crc32)}. Copy the file again.`,
    );
  }
  return data;
}

interface DirectoryLocation {
  count: number;
  directoryOffset: number;
  directorySize: number;
}

function readDirectoryLocation(view: DataView, source: string): DirectoryLocation {
  const eocd = findEndOfCentralDirectory(view);
  if (eocd < 0) {
    throw new TorchCheckpointError(
      `${source} is not a complete zip archive: the end-of-central-directory record is ` +
        `missing, so the file is truncated or corrupt. Copy the file again.`,
    );
  }
  const location: DirectoryLocation = {
    count: view.getUint16(eocd + 10, true),
    directorySize: view.getUint32(eocd + 12, true),
    directoryOffset: view.getUint32(eocd + 16, true),
  };
  const needsZip64 = location.count === 0xffff || location.directorySize === 0xffffffff ||
    location.directoryOffset === 0xffffffff;
  const locator = eocd - 20;
  if (!needsZip64 || locator < 0 || view.getUint32(locator, true) !== ZIP64_LOCATOR_SIGNATURE) {
    return location;
  }
  const record = Number(view.getBigUint64(locator + 8, true));
  if (record + 56 > view.byteLength || view.getUint32(record, true) !== ZIP64_EOCD_SIGNATURE) {
    throw new TorchCheckpointError(
      `${source} is corrupt: its zip64 end-of-central-directory record is invalid.`,
    );
  }
  return {
    count: Number(view.getBigUint64(record + 32, true)),
    directorySize: Number(view.getBigUint64(record + 40, true)),
    directoryOffset: Number(view.getBigUint64(record + 48, true)),
  };
}

function findEndOfCentralDirectory(view: DataView): number {
  const last = view.byteLength - EOCD_SIZE;
  const first = Math.max(0, last - MAX_COMMENT_BYTES);
  for (let pos = last; pos >= first; pos--) {
    if (view.getUint32(pos, true) !== EOCD_SIGNATURE) continue;
    // A real record's comment reaches exactly to the end of the file.
    if (pos + EOCD_SIZE + view.getUint16(pos + 20, true) === view.byteLength) return pos;
  }
  return -1;
}

/** Replaces the 32-bit fields set to 0xffffffff with their zip64 extra field values. */
function applyZip64Extra(entry: ZipEntry, extra: DataView, source: string): void {
  let pos = 0;
  while (pos + 4 <= extra.byteLength) {
    const id = extra.getUint16(pos, true);
    const size = extra.getUint16(pos + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      let field = pos + 4;
      const end = Math.min(pos + 4 + size, extra.byteLength);
      const readField = () => {
        if (field + 8 > end) {
          throw new TorchCheckpointError(
            `${source} is corrupt: the zip64 extra field of entry "${entry.name}" is too short.`,
          );
        }
        field += 8;
        return Number(extra.getBigUint64(field - 8, true));
      };
      if (entry.size === 0xffffffff) entry.size = readField();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = readField();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = readField();
      return;
    }
    pos += 4 + size;
  }
}

let crcTable: Uint32Array | undefined;

/** Computes the CRC-32 (IEEE 802.3 polynomial) that zip records for each entry. */
export function crc32(data: Uint8Array): number {
  crcTable ??= makeCrcTable();
  let crc = 0xffffffff;
  for (let i = 0; i < data.byteLength; i++) {
    crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
