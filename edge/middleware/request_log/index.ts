/**
 * Request Log Middleware: writes one structured log line per request with
 * the method, path, status, duration in milliseconds, request and response
 * sizes in bytes, the request id, and the error code when there is one.
 *
 * Only these fields are logged. The query string, headers (and so the API
 * key) and the body (the photo) never reach the log.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { requestLog } from "./index.ts";
 * import type { EdgeEnv } from "../../types.ts";
 *
 * const app = new Hono<EdgeEnv>();
 * app.use(requestLog());
 * ```
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getLogger, type Logger } from "@logtape/logtape";
import type { EdgeEnv } from "../../types.ts";

/** The fields of one request log line. */
export interface RequestLogRecord {
  method: string;
  path: string;
  status: number;
  ms: number;
  /**
   * Request body bytes that the service read: all of them for a request it
   * accepted, those up to the failure for one it stopped reading (over the
   * size limit, deadline passed), and 0 when it never read the body. The
   * Content-Length header is not used, because a client can claim any length.
   */
  requestBytes: number;
  /** Response body bytes. */
  responseBytes: number;
  requestId: string;
  /** Error code of an error response; `null` on success. */
  errorCode: string | null;
}

/** Options for {@linkcode requestLog}. */
export interface RequestLogOptions {
  /** Logger to write to. Default: the `["waste-vision", "edge", "request"]` logger. */
  logger?: Logger;
}

function parseLength(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const length = Number(value);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

/**
 * Counts the response body bytes. Every response of this service is a small
 * JSON or HTML body, so measuring a clone costs little.
 */
async function measureResponse(response: Response): Promise<number> {
  const declared = parseLength(response.headers.get("content-length"));
  if (declared !== null) return declared;
  if (response.body === null) return 0;
  return (await response.clone().arrayBuffer()).byteLength;
}

async function buildRecord(c: Context<EdgeEnv>, startedAt: number): Promise<RequestLogRecord> {
  return {
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    ms: Math.round((performance.now() - startedAt) * 10) / 10,
    requestBytes: c.get("requestBytes") ?? 0,
    responseBytes: await measureResponse(c.res),
    requestId: c.get("requestId") ?? "",
    errorCode: c.get("errorCode") ?? null,
  };
}

const LINE = "{method} {path} {status} {ms} ms, {requestBytes} bytes in, " +
  "{responseBytes} bytes out, request {requestId}";

/**
 * Picks the level of a line: `error` for a 500 (a bug), `warning` for other
 * 5xx statuses such as 503 while the model is unavailable, whose cause the
 * service logs once on its own, and `info` for the rest.
 */
function levelOf(status: number): "error" | "warning" | "info" {
  if (status === 500) return "error";
  return status > 500 ? "warning" : "info";
}

/** Creates the middleware. */
export function requestLog(options: RequestLogOptions = {}): MiddlewareHandler<EdgeEnv> {
  const logger = options.logger ?? getLogger(["waste-vision", "edge", "request"]);
  return async function requestLog(c, next) {
    const startedAt = performance.now();
    await next();
    const record = await buildRecord(c, startedAt);
    const template = record.errorCode === null ? LINE : `${LINE}, error {errorCode}`;
    logger[levelOf(record.status)](template, { ...record });
  };
}
