/**
 * Body Limit Middleware: reads the request body into `c.var.body` and rejects
 * it with `payload_too_large` as soon as it passes the limit.
 *
 * Unlike Hono's `bodyLimit`, which trusts a Content-Length header when there
 * is one, this middleware counts the bytes as they stream in for every
 * request: a chunked body, a missing Content-Length or one that understates
 * the body all stop at the limit. A declared Content-Length over the limit is
 * rejected before any byte is read.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bodyLimit } from "./index.ts";
 * import type { EdgeEnv } from "../../types.ts";
 *
 * const app = new Hono<EdgeEnv>();
 * app.post("/upload", bodyLimit({ maxBytes: 1024 }), (c) => c.json({ bytes: c.var.body.length }));
 * ```
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../errors.ts";
import type { EdgeEnv } from "../../types.ts";

/** Options for {@linkcode bodyLimit}. */
export interface BodyLimitOptions {
  /** Maximum body size in bytes. */
  maxBytes: number;
}

function tooLarge(maxBytes: number, detail: string): ApiError {
  return new ApiError(
    "payload_too_large",
    `The request body ${detail}, over the limit of ${maxBytes} bytes. ` +
      "Downscale the photo before uploading (about 1024 pixels on the longer side is enough).",
  );
}

function rejectDeclaredLength(header: string | undefined, maxBytes: number): void {
  if (header === undefined) return;
  const declared = Number(header);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw tooLarge(maxBytes, `declares ${declared} bytes in Content-Length`);
  }
}

/** Options for {@linkcode readLimited}. */
export interface ReadLimitedOptions {
  /** Stops the read with the signal's reason when it aborts. */
  signal?: AbortSignal;
  /** Called after each chunk with the total bytes read so far, the chunk that passes the limit included. */
  onRead?: (bytesRead: number) => void;
}

/**
 * Reads `stream` into one array, cancelling it and throwing `payload_too_large`
 * when more than `maxBytes` arrive, or the signal's reason when
 * `options.signal` is aborted first.
 */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: ReadLimitedOptions = {},
): Promise<Uint8Array> {
  const { signal, onRead } = options;
  const reader = stream.getReader();
  const cancel = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      size += value.byteLength;
      onRead?.(size);
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge(maxBytes, `passed ${size} bytes while streaming`);
      }
      chunks.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
  return concatChunks(chunks, size);
}

function concatChunks(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Creates the middleware. It stores the body in `c.var.body` (empty when the
 * request has none), keeps the bytes read so far in `c.var.requestBytes` for
 * the request log, and stops reading when the request deadline in
 * `c.var.deadline` passes.
 */
export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<EdgeEnv> {
  const { maxBytes } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`bodyLimit: maxBytes must be a positive integer, got ${maxBytes}.`);
  }
  return async function bodyLimit(c, next) {
    rejectDeclaredLength(c.req.header("content-length"), maxBytes);
    const stream = c.req.raw.body;
    c.set("requestBytes", 0);
    const body = stream
      ? await readLimited(stream, maxBytes, {
        signal: c.get("deadline"),
        onRead: (bytesRead) => c.set("requestBytes", bytesRead),
      })
      : new Uint8Array();
    c.set("body", body);
    await next();
  };
}
