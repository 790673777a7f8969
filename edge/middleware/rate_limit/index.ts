/**
 * Rate Limit Middleware: a token bucket per client, rejecting with `rate_limited`
 * (429) with a `Retry-After` header when the client's bucket is empty.
 *
 * Hono has no built-in rate limiter. The client key defaults to the
 * connection's remote address. The app keys authenticated requests by their
 * API key instead, so that all devices sharing one key share one budget.
 * Forwarded-for headers are not trusted because any client can set them.
 * The buckets live in the memory of one process: behind several instances,
 * each instance counts on its own.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { rateLimit } from "./index.ts";
 * import type { EdgeEnv } from "../../types.ts";
 *
 * const app = new Hono<EdgeEnv>();
 * app.use("/v1/*", rateLimit({ requestsPerMinute: 60, burst: 10 }));
 * ```
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../../errors.ts";
import type { EdgeEnv } from "../../types.ts";
import { TokenBuckets, type TokenBucketsArgs } from "./token_bucket.ts";

export { TokenBuckets } from "./token_bucket.ts";

/** Options for {@linkcode rateLimit}. */
export interface RateLimitOptions extends TokenBucketsArgs {
  /** Returns the bucket key of a request. Default: {@linkcode clientAddressKey}. */
  keyOf?: (c: Context<EdgeEnv>) => string;
}

/** Keys a request by the remote address of its connection, or `"unknown"` without one. */
export function clientAddressKey(c: Context<EdgeEnv>): string {
  const address = c.env?.remoteAddr;
  return address && "hostname" in address ? `addr:${address.hostname}` : "addr:unknown";
}

/** Creates the middleware. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<EdgeEnv> {
  const buckets = new TokenBuckets(options);
  const keyOf = options.keyOf ?? clientAddressKey;
  return async function rateLimit(c, next) {
    const result = buckets.take(keyOf(c));
    c.header("RateLimit-Limit", String(buckets.burst));
    c.header("RateLimit-Remaining", String(result.remaining));
    if (!result.allowed) {
      throw new ApiError(
        "rate_limited",
        `Too many requests from this client. Retry in ${result.retryAfterSeconds} s.`,
        { headers: { "Retry-After": String(result.retryAfterSeconds) } },
      );
    }
    await next();
  };
}
