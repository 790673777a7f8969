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

/** Options for {@linkcode apiKeyAuth}. */
export interface ApiKeyAuthOptions {
  /** Accepted keys; several allow rotating a key without downtime. Must not be empty. */
  keys: string[];
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

/** Creates the middleware. */
export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler {
  const keys = [...options.keys];
  if (keys.length === 0) {
    throw new RangeError("apiKeyAuth: keys must not be empty. Leave the middleware out instead.");
  }
  return async function apiKeyAuth(c, next) {
    const token = readBearerToken(c);
    if (!(await isAcceptedKey(token, keys))) {
      throw unauthorized("The API key is not valid. Check the key, or ask the operator for one.");
    }
    await next();
  };
}
