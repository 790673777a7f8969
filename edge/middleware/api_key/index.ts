/**
 * API Key Middleware: requires `Authorization: Bearer <key>` with one of the
 * configured keys, and rejects the request with `unauthorized` (401) otherwise.
 *
 * Hono's `bearerAuth` rejects a malformed header with a plain-text 400, but
 * this API promises a JSON `unauthorized` error for every failed check, so
 * the header is parsed here. Keys are compared with Hono's
 * `timingSafeEqual`, which hashes both sides so that the comparison time
 * does not reveal how many leading characters matched.
 *
 * With the `failureLimit` option, failed checks are rate limited per client
 * address, so that guessing keys is limited too. The check and the count
 * happen with no `await` between them, so concurrent guesses cannot all pass
 * before the first failure is counted.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { apiKeyAuth } from "./index.ts";
 *
 * const app = new Hono();
 * app.use("/v1/*", apiKeyAuth({ keys: ["k-123"] }));
 * ```
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import { ApiError } from "../../errors.ts";
import type { EdgeEnv } from "../../types.ts";
import { clientAddressKey, TokenBuckets } from "../rate_limit/index.ts";
import type { TokenBucketsArgs } from "../rate_limit/token_bucket.ts";

/** Options for {@linkcode apiKeyAuth}. */
export interface ApiKeyAuthOptions {
  /** Accepted keys; several allow rotating a key without downtime. Must not be empty. */
  keys: string[];
  /**
   * Token bucket for failed checks, one per client address. Each failed
   * check takes a token. While an address's bucket is empty, every request
   * from it gets `rate_limited` (429), with a valid key or not, so a guess
   * made then reveals nothing. Default: failed checks are not limited.
   */
  failureLimit?: TokenBucketsArgs;
}

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="waste-vision"' };

function unauthorized(message: string): ApiError {
  return new ApiError("unauthorized", message, { headers: CHALLENGE });
}

/**
 * Returns the token of an `Authorization: Bearer <token>` header, or throws
 * `unauthorized` naming what is wrong with the header.
 */
export function readBearerToken(c: Context): string {
  const header = c.req.header("authorization");
  if (header === undefined || header.trim() === "") {
    throw unauthorized(
      "Missing Authorization header. Send the API key as `Authorization: Bearer <key>`.",
    );
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!match) {
    throw unauthorized(
      "The Authorization header is not of the form `Bearer <key>`. Send the API key as `Authorization: Bearer <key>`.",
    );
  }
  return match[1];
}

async function isAcceptedKey(token: string, keys: string[]): Promise<boolean> {
  let accepted = false;
  // Every key is compared, so the time taken does not reveal which one matched.
  for (const key of keys) {
    if (await timingSafeEqual(key, token)) accepted = true;
  }
  return accepted;
}

/** Returns the `unauthorized` error of a failed check, or `undefined` when the key is accepted. */
async function checkAuthorization(c: Context, keys: string[]): Promise<ApiError | undefined> {
  let token: string;
  try {
    token = readBearerToken(c);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  if (await isAcceptedKey(token, keys)) return undefined;
  return unauthorized("The API key is not valid. Check the key, or ask the operator for one.");
}

/**
 * Counts a failed check against the client's address, and throws
 * `rate_limited` when the address has no token left, whether this check
 * failed or not.
 */
function enforceFailureLimit(
  buckets: TokenBuckets,
  c: Context<EdgeEnv>,
  failed: boolean,
): void {
  const address = clientAddressKey(c);
  const result = failed ? buckets.take(address) : buckets.peek(address);
  if (result.allowed) return;
  throw new ApiError(
    "rate_limited",
    "Too many requests with a missing or invalid API key from this address. " +
      `Retry in ${result.retryAfterSeconds} s with a valid key.`,
    { headers: { "Retry-After": String(result.retryAfterSeconds) } },
  );
}

/** Creates the middleware. */
export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<EdgeEnv> {
  const keys = [...options.keys];
  if (keys.length === 0) {
    throw new RangeError("apiKeyAuth: keys must not be empty. Leave the middleware out instead.");
  }
  const failures = options.failureLimit ? new TokenBuckets(options.failureLimit) : undefined;
  return async function apiKeyAuth(c, next) {
    const failure = await checkAuthorization(c, keys);
    if (failures) enforceFailureLimit(failures, c, failure !== undefined);
    if (failure) throw failure;
    await next();
  };
}
