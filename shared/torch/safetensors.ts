/**
 * Reader for `.safetensors` files: an 8-byte little-endian header length, a
 * JSON header that maps each tensor name to its dtype, shape and byte range,
 * then the raw little-endian tensor data.
 *
 * Every offset and size is checked against the file before any data is read,
 * so a truncated or corrupt file gets a {@linkcode TorchCheckpointError} that names
 * the problem.
 *
 * @example
 * ```ts
 * import { readSafetensors } from "./safetensors.ts";
 * const { tensors } = readSafetensors(await Deno.readFile("model.safetensors"));
 * for (const [name, tensor] of tensors) console.log(name, tensor.dtype, tensor.shape);
 * ```
 * @module
 */
import { TorchCheckpointError } from "./errors.ts";
import { countElements, DTYPE_BYTES, type RawTensor, type TorchDType } from "./tensor.ts";

/** Maximum header size in bytes; the safetensors format caps the header at 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

const SAFETENSORS_DTYPES: Readonly<Record<string, TorchDType>> = {
  F32: "float32",
  F16: "float16",
  I64: "int64",
};

/** Tensors and metadata of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  tensors: Map<string, RawTensor>;
  /** The optional string-to-string `__metadata__` entry of the header. */
  metadata: Record<string, string>;
}

interface HeaderEntry {
  name: string;
  dtype: TorchDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Returns whether the bytes start like a safetensors file: a header length
 * that fits the file, followed by a JSON object.
 */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 9) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  return headerLength <= BigInt(bytes.byteLength - 8) && bytes[8] === 0x7b; // "{"
}

/**
 * Parses a safetensors file held in memory. The `bytes` of each tensor are a
 * view into `bytes`, not a copy.
 *
 * @throws {TorchCheckpointError} when the header is missing, truncated or not valid
 * JSON, when an entry has an unsupported dtype, or when a byte range lies
 * outside the data section, overlaps another or does not match its shape.
 */
export function readSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsFile {
  const { header, dataStart } = readHeader(bytes, source);
  const metadata = readMetadata(header["__metadata__"], source);
  const entries = Object.entries(header)
    .filter(([name]) => name !== "__metadata__")
    .map(([name, value]) => parseEntry(name, value, source));
  const dataLength = bytes.byteLength - dataStart;
  checkByteRanges(entries, dataLength, source);

  const tensors = new Map<string, RawTensor>();
  for (const entry of entries) {
    tensors.set(entry.name, {
      dtype: entry.dtype,
      shape: entry.shape,
      bytes: bytes.subarray(dataStart + entry.begin, dataStart + entry.end),
    });
  }
  return { tensors, metadata };
}

function readHeader(
  bytes: Uint8Array,
  source: string,
): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.byteLength < 8) {
    throw new TorchCheckpointError(
      `${source} is truncated: it has ${bytes.byteLength} bytes, fewer than the 8-byte ` +
        `safetensors header length. Copy the file again.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new TorchCheckpointError(
      `${source} has an invalid safetensors header length of ${headerLength} bytes ` +
        `(maximum ${MAX_HEADER_BYTES}). The file is corrupt or not a safetensors file.`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.byteLength) {
    throw new TorchCheckpointError(
      `${source} is truncated: its safetensors header needs ${headerLength} bytes, but only ` +
        `${bytes.byteLength - 8} follow the length field. Copy the file again.`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)),
    );
  } catch (error) {
    throw new TorchCheckpointError(
      `${source} has a corrupt safetensors header: it is not valid UTF-8 JSON ` +
        `(${(error as Error).message}).`,
      { cause: error },
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new TorchCheckpointError(
      `${source} has an invalid safetensors header: expected a JSON object of tensors, ` +
        `got ${Array.isArray(header) ? "an array" : typeof header}.`,
    );
  }
  return { header: header as Record<string, unknown>, dataStart };
}

function readMetadata(value: unknown, source: string): Record<string, string> {
  if (value === undefined) return {};
  const valid = typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === "string");
  if (!valid) {
    throw new TorchCheckpointError(
      `${source} has an invalid "__metadata__" entry: expected an object of strings, ` +
        `got ${JSON.stringify(value)}.`,
    );
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, source: string): HeaderEntry {
  const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof value !== "object" || value === null) {
    throw new TorchCheckpointError(
      `${source}: header entry "${name}" must be an object with dtype, shape and ` +
        `data_offsets, got ${JSON.stringify(value)}.`,
    );
  }
  const dtype = SAFETENSORS_DTYPES[String(entry.dtype)];
  if (dtype === undefined) {
    throw new TorchCheckpointError(
      `${source}: tensor "${name}" has dtype ${JSON.stringify(entry.dtype)}, but only ` +
        `${Object.keys(SAFETENSORS_DTYPES).join(", ")} are supported. Convert the tensor ` +
        `with .float() in PyTorch before saving.`,
    );
  }
  if (!isIntegerArray(entry.shape)) {
    throw new TorchCheckpointError(
      `${source}: tensor "${name}" has an invalid shape ${JSON.stringify(entry.shape)}; ` +
        `expected an array of non-negative integers.`,
    );
  }
  const offsets = entry.data_offsets;
  if (!isIntegerArray(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
    throw new TorchCheckpointError(
      `${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}; ` +
        `expected [begin, end] with 0 <= begin <= end.`,
    );
  }
  const [begin, end] = offsets;
  const expectedBytes = countElements(entry.shape) * DTYPE_BYTES[dtype];
  if (end - begin !== expectedBytes) {
    throw new TorchCheckpointError(
      `${source}: tensor "${name}" spans ${end - begin} bytes, but shape [${entry.shape}] ` +
        `of ${dtype} needs ${expectedBytes}. The header is corrupt.`,
    );
  }
  return { name, dtype, shape: entry.shape, begin, end };
}

function isIntegerArray(value: unknown): value is number[] {
  return Array.isArray(value) &&
    value.every((item) => Number.isSafeInteger(item) && (item as number) >= 0);
}

function checkByteRanges(entries: HeaderEntry[], dataLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let previous: HeaderEntry | undefined;
  for (const entry of sorted) {
    if (entry.end > dataLength) {
      throw new TorchCheckpointError(
        `${source} is truncated: tensor "${entry.name}" ends at data byte ${entry.end}, ` +
          `but the data section has ${dataLength} bytes. Copy the file again.`,
      );
    }
    if (previous !== undefined && entry.begin < previous.end && entry.end > entry.begin) {
      throw new TorchCheckpointError(
        `${source}: tensors "${previous.name}" and "${entry.name}" overlap in the data ` +
          `section. The header is corrupt.`,
      );
    }
    if (entry.end > entry.begin) previous = entry;
  }
}
