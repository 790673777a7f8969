/**
 * Reader for the zip format that `torch.save` writes by default since
 * PyTorch 1.6. The archive contains `<archive>/data.pkl` (the pickled object
 * tree), one `<archive>/data/<key>` entry per tensor storage, a `version`
 * entry and, in newer versions, a `byteorder` entry.
 *
 * The pickle runs in the safe interpreter of `pickle.ts` with only the
 * globals that tensors and state_dicts need: `collections.OrderedDict`,
 * `torch._utils._rebuild_tensor_v2` (and `_rebuild_tensor`),
 * `torch._utils._rebuild_parameter` (and `_rebuild_parameter_with_state`),
 * and the storage types `torch.FloatStorage`, `torch.HalfStorage` and
 * `torch.LongStorage`, which appear in the persistent ids
 * `('storage', storage_type, key, location, numel)`. PyTorch 2.x's
 * `torch/serialization.py` writes the same persistent ids for typed storages,
 * but only files from PyTorch 1.13 were tested here. Tensors are returned
 * contiguous, whatever their strides and storage offsets were.
 *
 * @example
 * ```ts
 * import { readTorchZip } from "./torch_zip.ts";
 * const root = readTorchZip(await Deno.readFile("resnet18.pth"), "resnet18.pth");
 * ```
 * @module
 */
import { TorchCheckpointError } from "./errors.ts";
import { type PickleCallable, unpickle } from "./pickle.ts";
import { countElements, DTYPE_BYTES, type RawTensor, type TorchDType } from "./tensor.ts";
import { readZipEntries, readZipEntryData, type ZipEntry } from "./zip.ts";

/** A tensor rebuilt from a torch.save pickle. */
export class PickledTensor implements RawTensor {
  /** Creates a tensor from contiguous little-endian bytes. */
  constructor(
    readonly dtype: TorchDType,
    readonly shape: number[],
    readonly bytes: Uint8Array,
  ) {}
}

/** The Python class of a tensor storage, as named by a persistent id. */
interface StorageType {
  readonly pythonName: string;
  /** Element type, or undefined for a storage type this reader does not support. */
  readonly dtype?: TorchDType;
}

/** One storage entry of the archive, in little-endian byte order. */
interface Storage {
  readonly key: string;
  readonly dtype: TorchDType;
  readonly bytes: Uint8Array;
}

const SUPPORTED_STORAGES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  LongStorage: "int64",
};

/** Storage types that are safe to name but whose dtypes are not supported. */
const UNSUPPORTED_STORAGES = [
  "DoubleStorage",
  "BFloat16Storage",
  "IntStorage",
  "ShortStorage",
  "CharStorage",
  "ByteStorage",
  "BoolStorage",
  "ComplexFloatStorage",
  "ComplexDoubleStorage",
];

/**
 * Reads a torch.save zip archive and returns its unpickled object tree, with
 * tensors as {@linkcode PickledTensor}s and dicts as Maps.
 *
 * @throws {TorchCheckpointError} when the archive has no `data.pkl`, the pickle
 * requests anything beyond tensors and plain containers, a storage entry is
 * missing or too short, or a tensor's view runs past its storage.
 */
export function readTorchZip(bytes: Uint8Array, source: string): unknown {
  const entries = readZipEntries(bytes, source);
  const prefix = findArchivePrefix(entries, source);
  const readEntry = (name: string): Uint8Array | undefined => {
    const entry = entries.get(prefix + name);
    return entry === undefined ? undefined : readZipEntryData(bytes, entry, source);
  };

  const byteOrder = readByteOrder(readEntry("byteorder"), source);
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const { key, type, numel } = parseStoragePid(pid, source);
    const cached = storages.get(key);
    if (cached !== undefined) return cached;
    const storage = loadStorage(readEntry(`data/${key}`), { key, type, numel, byteOrder, source });
    storages.set(key, storage);
    return storage;
  };

  return unpickle(readEntry("data.pkl")!, {
    globals: makeGlobals(source),
    persistentLoad,
    source: `${source} (${prefix}data.pkl)`,
  });
}

function findArchivePrefix(entries: Map<string, ZipEntry>, source: string): string {
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    const listed = [...entries.keys()].slice(0, 10).join(", ");
    throw new TorchCheckpointError(
      `${source} is a zip archive but not a torch.save file: expected one ` +
        `"<archive>/data.pkl" entry, found ${pickles.length} (entries: ${listed}). ` +
        `Save the weights with torch.save(model.state_dict(), path).`,
    );
  }
  return pickles[0].slice(0, -"data.pkl".length);
}

function readByteOrder(entry: Uint8Array | undefined, source: string): "little" | "big" {
  if (entry === undefined) return "little"; // PyTorch before 2.0 wrote no byteorder entry
  const order = new TextDecoder().decode(entry).trim();
  if (order !== "little" && order !== "big") {
    throw new TorchCheckpointError(
      `${source} has an invalid byteorder entry ${
        JSON.stringify(order)
      }; expected "little" or "big".`,
    );
  }
  return order;
}

function makeGlobals(source: string): Map<string, unknown> {
  const globals = new Map<string, unknown>();
  const addCallable = (pythonName: string, call: (args: readonly unknown[]) => unknown) => {
    const callable: PickleCallable = { pythonName, call };
    globals.set(pythonName, callable);
  };
  addCallable("collections.OrderedDict", (args) => makeOrderedDict(args, source));
  addCallable("torch._utils._rebuild_tensor_v2", (args) => rebuildTensor(args, source));
  addCallable("torch._utils._rebuild_tensor", (args) => rebuildTensor(args, source));
  addCallable("torch._utils._rebuild_parameter", (args) => unwrapParameter(args, source));
  addCallable(
    "torch._utils._rebuild_parameter_with_state",
    (args) => unwrapParameter(args, source),
  );
  for (const [name, dtype] of Object.entries(SUPPORTED_STORAGES)) {
    const type: StorageType = { pythonName: `torch.${name}`, dtype };
    globals.set(type.pythonName, type);
  }
  for (const name of UNSUPPORTED_STORAGES) {
    const type: StorageType = { pythonName: `torch.${name}` };
    globals.set(type.pythonName, type);
  }
  return globals;
}

function makeOrderedDict(args: readonly unknown[], source: string): Map<unknown, unknown> {
  if (args.length === 0) return new Map();
  const [items] = args;
  if (items instanceof Map) return new Map(items);
  const isPairList = Array.isArray(items) &&
    items.every((pair) => Array.isArray(pair) && pair.length === 2);
  if (args.length === 1 && isPairList) return new Map(items as [unknown, unknown][]);
  throw new TorchCheckpointError(
    `${source}: collections.OrderedDict is called with unsupported arguments; ` +
      `expected none, a dict or a list of pairs.`,
  );
}

function unwrapParameter(args: readonly unknown[], source: string): PickledTensor {
  const [data] = args;
  if (!(data instanceof PickledTensor)) {
    throw new TorchCheckpointError(
      `${source}: torch._utils._rebuild_parameter expects a tensor as its first argument.`,
    );
  }
  return data;
}

interface StoragePid {
  key: string;
  type: StorageType;
  numel: number;
}

function parseStoragePid(pid: unknown, source: string): StoragePid {
  const valid = Array.isArray(pid) && pid.length === 5 && pid[0] === "storage" &&
    typeof pid[1] === "object" && pid[1] !== null && "pythonName" in pid[1] &&
    typeof pid[2] === "string" && typeof pid[3] === "string" &&
    Number.isSafeInteger(pid[4]) && pid[4] >= 0;
  if (!valid) {
    throw new TorchCheckpointError(
      `${source}: invalid persistent id ${describePid(pid)}; expected ` +
        `('storage', storage_type, key, location, numel).`,
    );
  }
  return { type: pid[1] as StorageType, key: pid[2], numel: pid[4] };
}

function describePid(pid: unknown): string {
  if (!Array.isArray(pid)) return typeof pid;
  const items = pid.map((item) =>
    typeof item === "object" && item !== null && "pythonName" in item
      ? String(item.pythonName)
      : JSON.stringify(item)
  );
  return `(${items.join(", ")})`;
}

interface StorageContext {
  key: string;
  type: StorageType;
  numel: number;
  byteOrder: "little" | "big";
  source: string;
}

function loadStorage(entry: Uint8Array | undefined, context: StorageContext): Storage {
  const { key, type, numel, byteOrder, source } = context;
  if (type.dtype === undefined) {
    throw new TorchCheckpointError(
      `${source} contains a tensor of storage type ${type.pythonName}, which is not supported; ` +
        `only float32, float16 and int64 tensors are. Convert the model with model.float() ` +
        `before saving its state_dict.`,
    );
  }
  if (entry === undefined) {
    throw new TorchCheckpointError(
      `${source} is corrupt: the storage entry "data/${key}" that the pickle refers to is missing.`,
    );
  }
  const elementBytes = DTYPE_BYTES[type.dtype];
  const needed = numel * elementBytes;
  if (entry.byteLength < needed) {
    throw new TorchCheckpointError(
      `${source} is corrupt: storage "data/${key}" has ${entry.byteLength} bytes, but ` +
        `${numel} elements of ${type.dtype} need ${needed}.`,
    );
  }
  const bytes = entry.subarray(0, needed);
  return {
    key,
    dtype: type.dtype,
    bytes: byteOrder === "big" ? swapBytes(bytes, elementBytes) : bytes,
  };
}

function swapBytes(bytes: Uint8Array, elementBytes: number): Uint8Array {
  const swapped = new Uint8Array(bytes.byteLength);
  for (let start = 0; start < bytes.byteLength; start += elementBytes) {
    for (let i = 0; i < elementBytes; i++) {
      swapped[start + i] = bytes[start + elementBytes - 1 - i];
    }
  }
  return swapped;
}

/**
 * Implements `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`:
 * copies the strided view out of the storage into a contiguous tensor.
 */
function rebuildTensor(args: readonly unknown[], source: string): PickledTensor {
  const [storage, offset, size, stride] = args;
  const valid = isStorage(storage) && Number.isSafeInteger(offset) && (offset as number) >= 0 &&
    isIndexTuple(size) && isIndexTuple(stride) && size.length === stride.length;
  if (!valid) {
    throw new TorchCheckpointError(
      `${source}: torch._utils._rebuild_tensor_v2 is called with invalid arguments; ` +
        `expected (storage, storage_offset, size, stride, ...).`,
    );
  }
  const shape = [...size];
  const elementBytes = DTYPE_BYTES[storage.dtype];
  const storageElements = storage.bytes.byteLength / elementBytes;
  const count = countElements(shape);
  let lastIndex = offset as number;
  for (let d = 0; d < shape.length; d++) lastIndex += (shape[d] - 1) * stride[d];
  if (count > 0 && lastIndex >= storageElements) {
    throw new TorchCheckpointError(
      `${source} is corrupt: a tensor of shape [${shape}] with stride [${stride}] and offset ` +
        `${offset} reads element ${lastIndex} of storage "data/${storage.key}", which has ` +
        `${storageElements} elements.`,
    );
  }
  const bytes = gatherStrided(storage.bytes, {
    elementBytes,
    shape,
    stride: [...stride],
    offset: offset as number,
  });
  return new PickledTensor(storage.dtype, shape, bytes);
}

function isStorage(value: unknown): value is Storage {
  return typeof value === "object" && value !== null && "bytes" in value && "dtype" in value &&
    "key" in value;
}

function isIndexTuple(value: unknown): value is readonly number[] {
  return Array.isArray(value) &&
    value.every((item) => Number.isSafeInteger(item) && (item as number) >= 0);
}

interface StridedView {
  elementBytes: number;
  shape: number[];
  stride: number[];
  offset: number;
}

/** Copies a strided view (strides and offset in elements) into row-major order. */
function gatherStrided(storage: Uint8Array, view: StridedView): Uint8Array {
  const { elementBytes, shape, stride, offset } = view;
  const count = countElements(shape);
  if (isContiguous(shape, stride)) {
    const start = offset * elementBytes;
    return storage.subarray(start, start + count * elementBytes);
  }
  const out = new Uint8Array(count * elementBytes);
  const index = new Array<number>(shape.length).fill(0);
  let source = offset;
  for (let i = 0; i < count; i++) {
    out.set(storage.subarray(source * elementBytes, (source + 1) * elementBytes), i * elementBytes);
    // Advance the multi-index like an odometer, innermost dimension first.
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++;
      source += stride[d];
      if (index[d] < shape[d]) break;
      source -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}
