/**
 * Token buckets keyed by client, for rate limiting.
 *
 * Each client's bucket holds up to `burst` tokens and refills at
 * `requestsPerMinute / 60` tokens per second. A request takes one token, or
 * is rejected with the seconds until a token is back. Buckets are created on
 * first use. The number of buckets is capped: when the cap is reached, full
 * buckets are dropped first (a full bucket is the same as a new one), then
 * the oldest ones.
 *
 * @example
 * ```ts
 * import { TokenBuckets } from "./token_bucket.ts";
 * const buckets = new TokenBuckets({ requestsPerMinute: 60, burst: 10 });
 * const result = buckets.take("203.0.113.7");
 * console.log(result.allowed, result.remaining);
 * ```
 * @module
 */

/** Arguments of {@linkcode TokenBuckets}. */
export interface TokenBucketsArgs {
  /** Tokens added per minute. Must be positive. */
  requestsPerMinute: number;
  /** Bucket capacity. Must be at least 1. */
  burst: number;
  /** Maximum number of clients tracked at once. Default: 10,000. */
  maxClients?: number;
  /** Clock in milliseconds. Default: `Date.now`. */
  now?: () => number;
}

/** Outcome of {@linkcode TokenBuckets.take} and {@linkcode TokenBuckets.peek}. */
export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left, after the token taken by `take`. */
  remaining: number;
  /** Seconds until the next token, rounded up; 0 when allowed. */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A set of token buckets, one per client key. */
export class TokenBuckets {
  readonly burst: number;
  readonly #tokensPerMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(args: TokenBucketsArgs) {
    if (!(args.requestsPerMinute > 0)) {
      throw new RangeError(
        `TokenBuckets: requestsPerMinute must be positive, got ${args.requestsPerMinute}.`,
      );
    }
    if (!(args.burst >= 1)) {
      throw new RangeError(`TokenBuckets: burst must be at least 1, got ${args.burst}.`);
    }
    this.burst = args.burst;
    this.#tokensPerMs = args.requestsPerMinute / 60_000;
    this.#maxClients = args.maxClients ?? 10_000;
    this.#now = args.now ?? Date.now;
  }

  /** Number of clients currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from the bucket of `key`, creating a full bucket on first use. */
  take(key: string): TakeResult {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? this.#addBucket(key, now);
    this.#refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    return this.#rejection(bucket);
  }

  /**
   * Returns whether `key` has a token left, without taking it. A key without
   * a bucket has a full one, and no bucket is created for it.
   */
  peek(key: string): TakeResult {
    const bucket = this.#buckets.get(key);
    if (!bucket) return { allowed: true, remaining: this.burst, retryAfterSeconds: 0 };
    this.#refill(bucket, this.#now());
    if (bucket.tokens >= 1) {
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    return this.#rejection(bucket);
  }

  #rejection(bucket: Bucket): TakeResult {
    const waitMs = (1 - bucket.tokens) / this.#tokensPerMs;
    return { allowed: false, remaining: 0, retryAfterSeconds: Math.ceil(waitMs / 1000) };
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.#tokensPerMs);
    bucket.updatedAt = now;
  }

  #addBucket(key: string, now: number): Bucket {
    if (this.#buckets.size >= this.#maxClients) this.#evict(now);
    const bucket = { tokens: this.burst, updatedAt: now };
    this.#buckets.set(key, bucket);
    return bucket;
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.tokens >= this.burst) this.#buckets.delete(key);
    }
    // Maps iterate in insertion order, so this drops the oldest clients.
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxClients) break;
      this.#buckets.delete(key);
    }
  }
}
