/**
 * Deadline Middleware: responds with `request_timeout` (408) when a request, upload
 * included, is not done within a fixed time.
 *
 * It wraps Hono's `timeout` middleware and also stores an `AbortSignal` in
 * `c.var.deadline`. The signal aborts when the deadline passes, so the body
 * reader stops reading and the classify route skips its remaining stages.
 * Work that is running when the deadline passes, such as one model
 * inference, still finishes in the background because it cannot be
 * interrupted.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { deadline } from "./index.ts";
 * import type { EdgeEnv } from "../../types.ts";
 *
 * const app = new Hono<EdgeEnv>();
 * app.use(deadline({ timeoutMs: 10_000 }));
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { timeout } from "hono/timeout";
import { ApiError } from "../../errors.ts";
import type { EdgeEnv } from "../../types.ts";

/** Options for {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Time allowed for a whole request, in milliseconds. */
  timeoutMs: number;
}

function timeoutError(timeoutMs: number): ApiError {
  return new ApiError(
    "request_timeout",
    `The request did not finish within the ${timeoutMs} ms deadline. ` +
      "Upload a smaller photo, check the connection, and retry.",
  );
}

/** Creates the middleware. */
export function deadline(options: DeadlineOptions): MiddlewareHandler<EdgeEnv> {
  const { timeoutMs } = options;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new RangeError(`deadline: timeoutMs must be a positive integer, got ${timeoutMs}.`);
  }
  return async function deadline(c, next) {
    const controller = new AbortController();
    c.set("deadline", controller.signal);
    const limit = timeout(timeoutMs, () => {
      const error = timeoutError(timeoutMs);
      controller.abort(error);
      return error;
    });
    await limit(c, next);
  };
}
