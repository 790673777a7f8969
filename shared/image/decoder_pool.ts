/**
 * Decodes images in Web Workers, so a large decode (seconds for an 8000x6000
 * JPEG) runs off the caller's event loop. Each worker runs `decodeImage` from
 * `decode.ts` on one request at a time, and requests beyond the number of
 * workers wait in a first-in, first-out queue. Workers start on first use,
 * and a worker that crashes is replaced.
 *
 * Errors come back as the same classes: an `ImageDecodeError` with the same
 * `code`, `format` and message, and `RangeError`/`TypeError` for invalid
 * options.
 *
 * @example
 * ```ts
 * import { DecoderPool } from "./decoder_pool.ts";
 * const pool = new DecoderPool({ size: 2 });
 * const image = await pool.decode(await Deno.readFile("photo.jpg"), { maxPixels: 50_000_000 });
 * pool.close(); // workers keep the process alive until closed
 * ```
 * @module
 */
import { getLogger } from "../log.ts";
import type { SerializedError, WorkerReply, WorkerRequest } from "./decoder_protocol.ts";
import {
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  type RgbImage,
} from "./types.ts";

const logger = getLogger(["waste-vision", "image"]);

/** Options for {@linkcode DecoderPool}. */
export interface DecoderPoolOptions {
  /**
   * Number of workers. Default: the number of logical CPUs minus one (one is
   * left for the caller's event loop), at least 1 and at most 4.
   */
  size?: number;
}

interface Task {
  request: WorkerRequest;
  resolve: (image: RgbImage) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

/** A fixed number of decoding workers behind a queue. */
export class DecoderPool {
  /** Number of workers. */
  readonly size: number;
  #slots: Slot[] = [];
  #queue: Task[] = [];
  #nextId = 1;
  #closed = false;

  /** Creates a pool; no worker starts until the first {@linkcode DecoderPool.decode}. */
  constructor(options: DecoderPoolOptions = {}) {
    const size = options.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`DecoderPool size must be a positive integer, got ${size}.`);
    }
    this.size = size;
  }

  /**
   * Decodes `bytes` in a worker, with the same result and errors as
   * `decodeImage`. The bytes are copied to the worker, so the caller may
   * reuse them. Rejects with an `Error` if the pool is closed first.
   */
  decode(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
    if (this.#closed) {
      return Promise.reject(new Error("The DecoderPool is closed; create a new one to decode."));
    }
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError("DecoderPool.decode expects the image as a Uint8Array."));
    }
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    const request = { id: this.#nextId++, bytes, maxPixels, minSide: options.minSide };
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#dispatch();
    });
  }

  /** Terminates the workers and rejects every queued or running request. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const closedError = () => new Error("The DecoderPool was closed before the image was decoded.");
    for (const slot of this.#slots) {
      slot.worker.terminate();
      slot.task?.reject(closedError());
    }
    for (const task of this.#queue) task.reject(closedError());
    this.#slots = [];
    this.#queue = [];
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const slot = this.#idleSlot();
      if (slot === undefined) return;
      const task = this.#queue.shift()!;
      slot.task = task;
      slot.worker.postMessage(task.request);
    }
  }

  #idleSlot(): Slot | undefined {
    const idle = this.#slots.find((slot) => slot.task === undefined);
    if (idle !== undefined || this.#slots.length >= this.size) return idle;
    const slot = this.#startWorker();
    this.#slots.push(slot);
    return slot;
  }

  #startWorker(): Slot {
    const worker = new Worker(new URL("./decoder_worker.ts", import.meta.url), { type: "module" });
    const slot: Slot = { worker };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#onReply(slot, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onCrash(slot, event.message);
    };
    return slot;
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    const task = slot.task;
    slot.task = undefined;
    if (task !== undefined && task.request.id === reply.id) {
      if (reply.ok) task.resolve(reply.image);
      else task.reject(deserializeError(reply.error));
    }
    this.#dispatch();
  }

  /** Replaces a worker that raised an uncaught error, failing its request. */
  #onCrash(slot: Slot, message: string): void {
    logger.error("Image decoder worker crashed; replacing it: {message}", { message });
    slot.worker.terminate();
    this.#slots = this.#slots.filter((other) => other !== slot);
    slot.task?.reject(
      new ImageDecodeError(
        "invalid_image",
        `The image could not be decoded: the decoder failed (${message}). ` +
          "Send the photo as a standard JPEG or PNG.",
      ),
    );
    if (!this.#closed) this.#dispatch();
  }
}

function defaultPoolSize(): number {
  const cpus = navigator.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(4, cpus - 1));
}

/** Re-creates an error posted by a worker as the same class. */
function deserializeError(error: SerializedError): Error {
  if (error.code !== undefined) {
    return new ImageDecodeError(error.code, error.message, { format: error.format });
  }
  if (error.name === "RangeError") return new RangeError(error.message);
  if (error.name === "TypeError") return new TypeError(error.message);
  const generic = new Error(error.message);
  generic.name = error.name;
  return generic;
}
