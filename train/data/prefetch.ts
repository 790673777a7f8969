/**
 * One-batch-ahead prefetching for the training loop.
 *
 * @example
 * ```ts
 * import { BatchPrefetcher } from "./prefetch.ts";
 * const batches = new BatchPrefetcher([4, 0, 3, 1, 2], {
 *   batchSize: 2,
 *   makeBatch: (indices) => ({ x: new Float32Array(indices), y: Int32Array.from(indices) }),
 * });
 * for await (const batch of batches) console.log(batch.y); // [4, 0], then [3, 1], then [2]
 * ```
 * @module
 */

/** A batch of model inputs and class labels. */
export interface Batch {
  /** Input tensor data, batch-major. */
  x: Float32Array;
  /** Class index of each input. */
  y: Int32Array;
}

/** Options for {@linkcode BatchPrefetcher}. */
export interface BatchPrefetcherArgs<B> {
  /** Number of indices per batch; the last batch may be smaller. A positive integer. */
  batchSize: number;
  /** Builds the batch for the given sample indices. May return a promise. */
  makeBatch: (indices: number[]) => B | Promise<B>;
  /** If true, a smaller last batch is left out. Default: false. */
  dropLast?: boolean;
}

/**
 * Hands out the batches of an ordered list of sample indices, preparing batch
 * k + 1 while batch k is in use.
 *
 * When {@linkcode BatchPrefetcher.next} hands out a batch, it schedules the
 * next `makeBatch` call with a zero-delay timer, so the work runs as soon as
 * the training step yields to the event loop. The two overlap only while the
 * step awaits timers or I/O (a GPU read-back, for example), or when
 * `makeBatch` itself awaits worker threads. A fully synchronous step and a
 * synchronous `makeBatch` simply take turns.
 *
 * An error from `makeBatch` is thrown by the `next` call that asks for that
 * batch, and closes the prefetcher.
 */
export class BatchPrefetcher<B = Batch> implements AsyncIterable<B> {
  /** Number of batches that {@linkcode BatchPrefetcher.next} hands out in total. */
  readonly batchCount: number;
  #indices: number[];
  #batchSize: number;
  #makeBatch: (indices: number[]) => B | Promise<B>;
  #nextBatch = 0;
  #prefetched: Promise<B> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * Creates a prefetcher over a copy of `indices`. Nothing is built until the
   * first {@linkcode BatchPrefetcher.next} call.
   *
   * @throws {RangeError} if `batchSize` is not a positive integer.
   */
  constructor(indices: readonly number[], args: BatchPrefetcherArgs<B>) {
    const { batchSize } = args;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Invalid batchSize ${batchSize}: use a positive integer, such as 32.`);
    }
    this.#indices = [...indices];
    this.#batchSize = batchSize;
    this.#makeBatch = args.makeBatch;
    this.batchCount = args.dropLast
      ? Math.floor(indices.length / batchSize)
      : Math.ceil(indices.length / batchSize);
  }

  /**
   * Returns the next batch, or `undefined` after the last one or after
   * {@linkcode BatchPrefetcher.close}, and schedules the batch after it.
   */
  async next(): Promise<B | undefined> {
    if (this.#closed || this.#nextBatch >= this.batchCount) return undefined;
    const current = this.#prefetched ?? this.#build(this.#nextBatch);
    this.#prefetched = undefined;
    this.#nextBatch++;

    let batch: B;
    try {
      batch = await current;
    } catch (error) {
      this.close();
      throw error;
    }
    if (!this.#closed && this.#nextBatch < this.batchCount) this.#schedule(this.#nextBatch);
    return batch;
  }

  /** Stops prefetching; a batch already being built is finished and dropped. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#prefetched = undefined;
  }

  /** Iterates over the remaining batches; leaving the loop early closes the prefetcher. */
  async *[Symbol.asyncIterator](): AsyncIterator<B> {
    try {
      for (let batch = await this.next(); batch !== undefined; batch = await this.next()) {
        yield batch;
      }
    } finally {
      this.close();
    }
  }

  #build(batchIndex: number): Promise<B> {
    const start = batchIndex * this.#batchSize;
    const indices = this.#indices.slice(start, start + this.#batchSize);
    // An async wrapper turns a synchronous throw into a rejection.
    return (async () => await this.#makeBatch(indices))();
  }

  #schedule(batchIndex: number): void {
    const { promise, resolve } = Promise.withResolvers<B>();
    // The rejection is rethrown by the next() that awaits it; without this
    // handler an unused failed batch would crash the process.
    promise.catch(() => {});
    this.#prefetched = promise;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      resolve(this.#build(batchIndex));
    }, 0);
  }
}
