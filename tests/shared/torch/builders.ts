/**
 * Builders of small checkpoint files for the reader tests: safetensors
 * files, stored zip archives and pickle byte strings, assembled byte by byte
 * so that each test controls exactly what is damaged.
 *
 * @module
 */
import { crc32 } from "../../../shared/torch/zip.ts";

/** Folder of the files that `scripts/torch_parity.py` writes for the tests. */
export const FIXTURES = new URL("../../fixtures/torch/", import.meta.url).pathname;

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Encodes a string as UTF-8. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function uint16(value: number): Uint8Array {
  const bytes = new Uint8Array(2);
  new DataView(bytes.buffer).setUint16(0, value, true);
  return bytes;
}

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

/** Returns the little-endian bytes of float32 values. */
export function float32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Builds a safetensors file from a header object (serialized as given) and the data section. */
export function encodeSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = utf8(JSON.stringify(header));
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  return concat(length, json, data);
}

/** One file of a zip built by {@linkcode buildZip}. */
export interface ZipFile {
  name: string;
  data: Uint8Array;
  /** Compression method written in the headers; the data is never compressed. Default: 0. */
  method?: number;
}

/** Builds a zip archive with uncompressed entries and a central directory. */
export function buildZip(files: ZipFile[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const file of files) {
    const name = utf8(file.name);
    const method = file.method ?? 0;
    const crc = crc32(file.data);
    const sizes = concat(uint32(crc), uint32(file.data.byteLength), uint32(file.data.byteLength));
    const local = concat(
      uint32(0x04034b50),
      uint16(20),
      uint16(0),
      uint16(method),
      uint32(0),
      sizes,
      uint16(name.byteLength),
      uint16(0),
      name,
      file.data,
    );
    const central = concat(
      uint32(0x02014b50),
      uint16(20),
      uint16(20),
      uint16(0),
      uint16(method),
      uint32(0),
      sizes,
      uint16(name.byteLength),
      uint16(0),
      uint16(0),
      uint16(0),
      uint16(0),
      uint32(0),
      uint32(offset),
      name,
    );
    locals.push(local);
    centrals.push(central);
    offset += local.byteLength;
  }
  const directory = concat(...centrals);
  const end = concat(
    uint32(0x06054b50),
    uint16(0),
    uint16(0),
    uint16(files.length),
    uint16(files.length),
    uint32(directory.byteLength),
    uint32(offset),
    uint16(0),
  );
  return concat(...locals, directory, end);
}

/** Pickle opcodes used by the tests, named as in CPython's pickletools. */
export const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  NONE: 0x4e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  SHORT_BINSTRING: 0x55,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  APPENDS: 0x65,
  BINGET: 0x68,
  INST: 0x69,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  BINPUT: 0x71,
  SETITEM: 0x73,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_TUPLE: 0x29,
  EMPTY_DICT: 0x7d,
  BINFLOAT: 0x47,
  SHORT_BINBYTES: 0x43,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  SHORT_BINUNICODE: 0x8c,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

/** Assembles a pickle program from opcodes and their arguments. */
export class PickleWriter {
  #parts: Uint8Array[] = [];

  /** Appends raw opcode or argument bytes. */
  bytes(...values: number[]): this {
    this.#parts.push(new Uint8Array(values));
    return this;
  }

  /** Appends PROTO with `version`. */
  proto(version: number): this {
    return this.bytes(OP.PROTO, version);
  }

  /** Appends GLOBAL "module\nname\n". */
  global(module: string, name: string): this {
    this.bytes(OP.GLOBAL);
    this.#parts.push(utf8(`${module}\n${name}\n`));
    return this;
  }

  /** Appends BINUNICODE with the UTF-8 bytes of `text`. */
  unicode(text: string): this {
    const encoded = utf8(text);
    this.bytes(OP.BINUNICODE);
    this.#parts.push(uint32(encoded.byteLength), encoded);
    return this;
  }

  /** Appends BININT1, BININT2 or BININT, whichever fits `value`. */
  int(value: number): this {
    if (value >= 0 && value < 0x100) return this.bytes(OP.BININT1, value);
    if (value >= 0 && value < 0x10000) return this.bytes(OP.BININT2, value & 0xff, value >> 8);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setInt32(0, value, true);
    this.bytes(OP.BININT);
    this.#parts.push(bytes);
    return this;
  }

  /** Appends BINFLOAT (big-endian float64). */
  float(value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, false);
    this.bytes(OP.BINFLOAT);
    this.#parts.push(bytes);
    return this;
  }

  /** Appends STOP and returns the program. */
  stop(): Uint8Array {
    this.bytes(OP.STOP);
    return concat(...this.#parts);
  }

  /** Returns the program without a STOP opcode. */
  build(): Uint8Array {
    return concat(...this.#parts);
  }
}

/** Options of {@linkcode tensorPickle}. */
export interface TensorPickleOptions {
  /** Storage type name in module `torch`. Default: `FloatStorage`. */
  storageType?: string;
  /** Storage key, the name of the `data/<key>` entry. Default: `"0"`. */
  key?: string;
  /** Element count of the storage in the persistent id. */
  numel: number;
  /** Storage offset in elements. Default: 0. */
  offset?: number;
  size: number[];
  stride: number[];
  /** Wrap the tensor in `torch._utils._rebuild_parameter`, as a pickled nn.Parameter. Default: false. */
  parameter?: boolean;
}

/**
 * Builds the data.pkl that torch.save writes for `{"w": tensor}`, protocol 2:
 * an OrderedDict whose value is `_rebuild_tensor_v2(storage, offset, size,
 * stride, False, OrderedDict())`.
 */
export function tensorPickle(options: TensorPickleOptions): Uint8Array {
  const writer = new PickleWriter().proto(2)
    .global("collections", "OrderedDict").bytes(OP.BINPUT, 0, OP.EMPTY_TUPLE, OP.REDUCE)
    .unicode("w");
  if (options.parameter) writer.global("torch._utils", "_rebuild_parameter").bytes(OP.MARK);
  writer.global("torch._utils", "_rebuild_tensor_v2")
    .bytes(OP.MARK, OP.MARK)
    .unicode("storage")
    .global("torch", options.storageType ?? "FloatStorage")
    .unicode(options.key ?? "0")
    .unicode("cpu")
    .int(options.numel)
    .bytes(OP.TUPLE, OP.BINPERSID)
    .int(options.offset ?? 0);
  writer.bytes(OP.MARK);
  for (const size of options.size) writer.int(size);
  writer.bytes(OP.TUPLE, OP.MARK);
  for (const stride of options.stride) writer.int(stride);
  writer.bytes(OP.TUPLE, OP.NEWFALSE, OP.BINGET, 0, OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE);
  writer.bytes(OP.REDUCE);
  if (options.parameter) {
    writer.bytes(OP.NEWTRUE, OP.BINGET, 0, OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE, OP.REDUCE);
  }
  writer.bytes(OP.SETITEM);
  return writer.stop();
}

/** Builds a torch.save-style zip from a data.pkl and storage entries. */
export function torchZip(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array>,
  extra: ZipFile[] = [],
): Uint8Array {
  return buildZip([
    { name: "archive/data.pkl", data: pickle },
    ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
    { name: "archive/version", data: utf8("3\n") },
    ...extra,
  ]);
}
