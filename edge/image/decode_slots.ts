/**
 * A counting semaphore for decodes. The intake holds one slot per decoder
 * worker, so uploads wait here rather than in the worker pool's queue. A
 * request whose deadline passes while it waits gives up its turn and is
 * never decoded, and at most one decoded photo per worker is in memory at once.
 * @module
 */

/** Slots for concurrent decodes, granted in request order. */
export class DecodeSlots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`DecodeSlots: size must be a positive integer, got ${size}.`);
    }
    this.#free = size;
  }

  /**
   * Runs `task` once a slot is free. Throws the signal's reason instead,
   * without running `task`, when `signal` aborts first.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (signal?.aborted) {
      this.#release();
      signal.throwIfAborted();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
