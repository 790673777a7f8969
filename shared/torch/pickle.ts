/**
 * A safe interpreter for the Python pickle format, for the subset that
 * `torch.save` writes (protocol 2, plus the string, bytes and framing opcodes
 * of protocols 3 and 4).
 *
 * Unlike Python's `pickle.load`, it never imports a module or runs code. A
 * GLOBAL opcode is looked up in the `globals` map that the caller passes, and
 * any other name is rejected with a {@linkcode TorchCheckpointError} that names it.
 * Opcodes that build instances of arbitrary classes (INST, OBJ, NEWOBJ) or use
 * the extension registry are rejected too.
 *
 * Python values become: `None` -> `null`, `bool` -> boolean, `int` -> number
 * (bigint beyond 2^53), `float` -> number, `str` -> string, `bytes` ->
 * Uint8Array, `list` -> array, `tuple` -> frozen array, `dict` -> Map.
 *
 * @example
 * ```ts
 * import { unpickle } from "./pickle.ts";
 * // {"a": 1} pickled with protocol 2.
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 1, 0x73, 0x2e]);
 * console.log(unpickle(bytes, { globals: new Map() })); // Map(1) { "a" => 1 }
 * ```
 * @module
 */
import { TorchCheckpointError } from "./errors.ts";

/** A Python callable that a pickle may call with REDUCE, implemented in TypeScript. */
export interface PickleCallable {
  /** Python name, `module.qualname`, used in error messages. */
  readonly pythonName: string;
  /** Builds the value from the argument tuple of REDUCE. */
  call(args: readonly unknown[]): unknown;
}

/** Options for {@linkcode unpickle}. */
export interface UnpickleOptions {
  /**
   * Values for the GLOBAL names the pickle may use, keyed by
   * `module.name`. Any other name is rejected. A value that implements
   * {@linkcode PickleCallable} can be called by REDUCE.
   */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves a persistent id (BINPERSID). Without it, persistent ids are rejected. */
  persistentLoad?: (pid: unknown) => unknown;
  /** File or entry name used in error messages. Default: `"pickle data"`. */
  source?: string;
}

const MAX_PROTOCOL = 5;

/** Opcodes that exist in the pickle format but are rejected, by name for error messages. */
const REJECTED_OPCODES: Readonly<Record<number, string>> = {
  0x46: "FLOAT", // text opcodes of protocol 0, which torch.save never writes
  0x49: "INT",
  0x4c: "LONG",
  0x53: "STRING",
  0x56: "UNICODE",
  0x67: "GET",
  0x70: "PUT",
  0x50: "PERSID",
  0x69: "INST", // these create instances of classes named in the pickle
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1", // these look up the copyreg extension registry
  0x83: "EXT2",
  0x84: "EXT4",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/**
 * Runs a pickle program and returns the value it builds.
 *
 * @throws {TorchCheckpointError} when the data is truncated or corrupt, uses an
 * unsupported opcode, or names a global that is not in `options.globals`.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return new Unpickler(bytes, options).run();
}

/** Returns whether a value is a {@linkcode PickleCallable}. */
export function isPickleCallable(value: unknown): value is PickleCallable {
  return typeof value === "object" && value !== null &&
    typeof (value as PickleCallable).call === "function" &&
    typeof (value as PickleCallable).pythonName === "string";
}

class Unpickler {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #options: UnpickleOptions;
  readonly #source: string;
  #pos = 0;
  #stack: unknown[] = [];
  readonly #marks: number[] = [];
  readonly #memo = new Map<number, unknown>();

  constructor(bytes: Uint8Array, options: UnpickleOptions) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#options = options;
    this.#source = options.source ?? "pickle data";
  }

  run(): unknown {
    while (this.#pos < this.#bytes.byteLength) {
      const opcodePos = this.#pos;
      const opcode = this.#readUint8();
      if (opcode === 0x2e) return this.#pop(); // STOP
      this.#execute(opcode, opcodePos);
    }
    throw this.#error("is truncated: it ends before the STOP opcode");
  }

  #execute(opcode: number, opcodePos: number): void {
    switch (opcode) {
      case 0x80: // PROTO
        return this.#checkProtocol(this.#readUint8());
      case 0x95: // FRAME: a length prefix that only helps buffered readers
        this.#take(8);
        return;
      case 0x28: // MARK
        this.#marks.push(this.#stack.length);
        return;
      case 0x30: // POP
        this.#pop();
        return;
      case 0x31: // POP_MARK
        this.#popMark();
        return;
      case 0x32: // DUP
        return this.#push(this.#peek());
      case 0x4e: // NONE
        return this.#push(null);
      case 0x88: // NEWTRUE
        return this.#push(true);
      case 0x89: // NEWFALSE
        return this.#push(false);
      case 0x4a: // BININT
        return this.#push(this.#view.getInt32(this.#advance(4), true));
      case 0x4b: // BININT1
        return this.#push(this.#readUint8());
      case 0x4d: // BININT2
        return this.#push(this.#view.getUint16(this.#advance(2), true));
      case 0x8a: // LONG1
        return this.#push(decodeLong(this.#take(this.#readUint8())));
      case 0x8b: // LONG4
        return this.#push(decodeLong(this.#take(this.#readLength(4))));
      case 0x47: // BINFLOAT, big-endian
        return this.#push(this.#view.getFloat64(this.#advance(8), false));
      default:
        return this.#executeContainerOpcode(opcode, opcodePos);
    }
  }

  #executeContainerOpcode(opcode: number, opcodePos: number): void {
    switch (opcode) {
      case 0x8c: // SHORT_BINUNICODE
        return this.#push(this.#readUtf8(this.#readUint8()));
      case 0x58: // BINUNICODE
        return this.#push(this.#readUtf8(this.#readLength(4)));
      case 0x8d: // BINUNICODE8
        return this.#push(this.#readUtf8(this.#readLength(8)));
      case 0x55: // SHORT_BINSTRING, a Python 2 str: decoded as Latin-1
        return this.#push(latin1(this.#take(this.#readUint8())));
      case 0x54: // BINSTRING
        return this.#push(latin1(this.#take(this.#readLength(4))));
      case 0x43: // SHORT_BINBYTES
        return this.#push(this.#take(this.#readUint8()).slice());
      case 0x42: // BINBYTES
        return this.#push(this.#take(this.#readLength(4)).slice());
      case 0x8e: // BINBYTES8
        return this.#push(this.#take(this.#readLength(8)).slice());
      case 0x29: // EMPTY_TUPLE
        return this.#push(Object.freeze([]));
      case 0x85: // TUPLE1
        return this.#push(Object.freeze(this.#popMany(1)));
      case 0x86: // TUPLE2
        return this.#push(Object.freeze(this.#popMany(2)));
      case 0x87: // TUPLE3
        return this.#push(Object.freeze(this.#popMany(3)));
      case 0x74: // TUPLE
        return this.#push(Object.freeze(this.#popMark()));
      case 0x5d: // EMPTY_LIST
        return this.#push([]);
      case 0x6c: // LIST
        return this.#push(this.#popMark());
      case 0x61: // APPEND
        return this.#appendItems(this.#popMany(1));
      case 0x65: // APPENDS
        return this.#appendItems(this.#popMark());
      case 0x7d: // EMPTY_DICT
        return this.#push(new Map());
      case 0x64: // DICT
        return this.#push(this.#setItems(new Map(), this.#popMark()));
      case 0x73: {
        // SETITEM: key and value lie above the dict.
        const items = this.#popMany(2);
        this.#setItems(this.#peekMap(), items);
        return;
      }
      case 0x75: {
        // SETITEMS: the items lie above the mark, the dict just below it.
        const items = this.#popMark();
        this.#setItems(this.#peekMap(), items);
        return;
      }
      default:
        return this.#executeObjectOpcode(opcode, opcodePos);
    }
  }

  #executeObjectOpcode(opcode: number, opcodePos: number): void {
    switch (opcode) {
      case 0x71: // BINPUT
        this.#memo.set(this.#readUint8(), this.#peek());
        return;
      case 0x72: // LONG_BINPUT
        this.#memo.set(this.#readUint32(), this.#peek());
        return;
      case 0x94: // MEMOIZE
        this.#memo.set(this.#memo.size, this.#peek());
        return;
      case 0x68: // BINGET
        return this.#push(this.#getMemo(this.#readUint8()));
      case 0x6a: // LONG_BINGET
        return this.#push(this.#getMemo(this.#readUint32()));
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = this.#readLine();
        const name = this.#readLine();
        return this.#push(this.#resolveGlobal(module, name));
      }
      case 0x93: {
        // STACK_GLOBAL: module and name are strings on the stack.
        const [module, name] = this.#popMany(2);
        if (typeof module !== "string" || typeof name !== "string") {
          throw this.#error(`is corrupt: STACK_GLOBAL at byte ${opcodePos} needs two strings`);
        }
        return this.#push(this.#resolveGlobal(module, name));
      }
      case 0x52: {
        // REDUCE: callable(*args)
        const [callable, args] = this.#popMany(2);
        return this.#push(this.#call(callable, args, opcodePos));
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state)
        const state = this.#pop();
        this.#build(this.#peek(), state, opcodePos);
        return;
      }
      case 0x51: // BINPERSID
        return this.#push(this.#persistentLoad(this.#pop()));
      default:
        throw this.#unsupportedOpcode(opcode, opcodePos);
    }
  }

  #checkProtocol(version: number): void {
    if (version > MAX_PROTOCOL) {
      throw this.#error(
        `uses pickle protocol ${version}; at most ${MAX_PROTOCOL} is supported. ` +
          `Save it again with torch.save's default protocol.`,
      );
    }
  }

  #resolveGlobal(module: string, name: string): unknown {
    const key = `${module}.${name}`;
    const allowed = this.#options.globals;
    if (!allowed.has(key)) {
      const names = [...allowed.keys()].join(", ") || "none";
      throw this.#error(
        `requests the Python global "${key}", which is not allowed, so the file was not ` +
          `loaded and nothing in it was run. Only tensors and plain containers are accepted ` +
          `(allowed globals: ${names}). If the file contains a whole model or other objects, save ` +
          `only the weights: torch.save(model.state_dict(), path).`,
      );
    }
    return allowed.get(key);
  }

  #call(callable: unknown, args: unknown, opcodePos: number): unknown {
    if (!isPickleCallable(callable)) {
      throw this.#error(
        `is not supported: REDUCE at byte ${opcodePos} calls ${describe(callable)}, ` +
          `which cannot be called`,
      );
    }
    if (!Array.isArray(args)) {
      throw this.#error(
        `is corrupt: REDUCE at byte ${opcodePos} calls ${callable.pythonName} with ` +
          `${describe(args)} in place of an argument tuple`,
      );
    }
    return callable.call(args);
  }

  #build(target: unknown, state: unknown, opcodePos: number): void {
    // The only BUILD that torch.save writes for a state_dict sets the
    // `_metadata` attribute of an OrderedDict. Attributes carry no tensors, so
    // they are dropped.
    if (target instanceof Map && (state instanceof Map || state === null)) return;
    throw this.#error(
      `is not supported: BUILD at byte ${opcodePos} sets the state of ${describe(target)}; ` +
        `only attributes of dicts are accepted`,
    );
  }

  #persistentLoad(pid: unknown): unknown {
    if (this.#options.persistentLoad === undefined) {
      throw this.#error("refers to external data (a persistent id), which is not supported here");
    }
    return this.#options.persistentLoad(pid);
  }

  #appendItems(items: unknown[]): void {
    const list = this.#peek();
    if (!Array.isArray(list) || Object.isFrozen(list)) {
      throw this.#error(`is corrupt: APPEND targets ${describe(list)}, not a list`);
    }
    list.push(...items);
  }

  #setItems(dict: Map<unknown, unknown>, items: unknown[]): Map<unknown, unknown> {
    if (items.length % 2 !== 0) {
      throw this.#error("is corrupt: a dict has a key without a value");
    }
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
    return dict;
  }

  #peekMap(): Map<unknown, unknown> {
    const dict = this.#peek();
    if (!(dict instanceof Map)) {
      throw this.#error(`is corrupt: SETITEM targets ${describe(dict)}, not a dict`);
    }
    return dict;
  }

  #getMemo(index: number): unknown {
    if (!this.#memo.has(index)) {
      throw this.#error(`is corrupt: memo entry ${index} is read before it is written`);
    }
    return this.#memo.get(index);
  }

  #push(value: unknown): void {
    this.#stack.push(value);
  }

  #peek(): unknown {
    if (this.#stack.length === 0) throw this.#error("is corrupt: the stack is empty");
    return this.#stack[this.#stack.length - 1];
  }

  #pop(): unknown {
    if (this.#stack.length === 0) throw this.#error("is corrupt: the stack is empty");
    return this.#stack.pop();
  }

  #popMany(count: number): unknown[] {
    if (this.#stack.length < count) throw this.#error("is corrupt: the stack is empty");
    return this.#stack.splice(this.#stack.length - count, count);
  }

  #popMark(): unknown[] {
    const mark = this.#marks.pop();
    if (mark === undefined || mark > this.#stack.length) {
      throw this.#error("is corrupt: an opcode needs a MARK that is missing");
    }
    return this.#stack.splice(mark);
  }

  #advance(count: number): number {
    if (this.#pos + count > this.#bytes.byteLength) {
      throw this.#error(`is truncated: ${count} bytes needed at byte ${this.#pos}`);
    }
    const start = this.#pos;
    this.#pos += count;
    return start;
  }

  #take(count: number): Uint8Array {
    const start = this.#advance(count);
    return this.#bytes.subarray(start, start + count);
  }

  #readUint8(): number {
    return this.#bytes[this.#advance(1)];
  }

  #readUint32(): number {
    return this.#view.getUint32(this.#advance(4), true);
  }

  /** Reads the length prefix of a value, and checks that the value fits in the data. */
  #readLength(size: 4 | 8): number {
    const at = this.#advance(size);
    const length = size === 4
      ? this.#view.getUint32(at, true)
      : Number(this.#view.getBigUint64(at, true));
    if (length > this.#bytes.byteLength - this.#pos) {
      throw this.#error(`is truncated: a ${length}-byte value at byte ${at} runs past the end`);
    }
    return length;
  }

  #readUtf8(length: number): string {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(this.#take(length));
    } catch (error) {
      if (error instanceof TorchCheckpointError) throw error;
      throw this.#error(`is corrupt: a string before byte ${this.#pos} is not valid UTF-8`);
    }
  }

  #readLine(): string {
    const end = this.#bytes.indexOf(0x0a, this.#pos);
    if (end < 0) throw this.#error("is truncated: a GLOBAL name has no line end");
    const line = latin1(this.#bytes.subarray(this.#pos, end));
    this.#pos = end + 1;
    return line;
  }

  #unsupportedOpcode(opcode: number, opcodePos: number): TorchCheckpointError {
    const hex = `0x${opcode.toString(16).padStart(2, "0")}`;
    const name = REJECTED_OPCODES[opcode];
    if (name === undefined) {
      return this.#error(
        `is corrupt: byte ${opcodePos} holds ${hex}, which is not a pickle opcode`,
      );
    }
    return this.#error(
      `uses the pickle opcode ${name} (${hex}) at byte ${opcodePos}, which is not supported ` +
        `because state_dicts saved by torch.save do not need it. Save only the weights: ` +
        `torch.save(model.state_dict(), path).`,
    );
  }

  #error(problem: string): TorchCheckpointError {
    return new TorchCheckpointError(`${this.#source} ${problem}.`);
  }
}

/** Decodes a little-endian two's complement integer as pickle's LONG opcodes store it. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.byteLength === 0) return 0;
  let value = 0n;
  for (let i = bytes.byteLength - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.byteLength - 1] & 0x80) value -= 1n << BigInt(bytes.byteLength * 8);
  const isSafe = value <= BigInt(Number.MAX_SAFE_INTEGER) &&
    value >= BigInt(Number.MIN_SAFE_INTEGER);
  return isSafe ? Number(value) : value;
}

/** Decodes ISO-8859-1. TextDecoder's "latin1" is windows-1252, which differs in 0x80-0x9f. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function describe(value: unknown): string {
  if (isPickleCallable(value)) return value.pythonName;
  if (value === null) return "None";
  if (value instanceof Map) return "a dict";
  if (Array.isArray(value)) return Object.isFrozen(value) ? "a tuple" : "a list";
  if (value instanceof Uint8Array) return "bytes";
  if (typeof value === "object") {
    const name = (value as { pythonName?: unknown }).pythonName;
    return typeof name === "string" ? name : "an object";
  }
  return `${typeof value} ${String(value)}`;
}
