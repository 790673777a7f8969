/**
 * The Hono environment type shared by the app, its middleware and routes:
 * the per-request variables and the bindings that `Deno.serve` passes.
 * @module
 */

/** Variables that middleware stores on the request context. */
export interface EdgeVariables {
  /** Request id from the `X-Request-Id` header, or a new UUID. */
  requestId: string;
  /** Request body, read by the body-limit middleware within `MAX_BODY_BYTES`. */
  body: Uint8Array;
  /**
   * Request body bytes that the body-limit middleware has read so far, also
   * when it stopped early (over the limit, deadline passed). Unset when the
   * body was never read.
   */
  requestBytes: number;
  /** Aborted when the request deadline passes. */
  deadline: AbortSignal;
  /** `performance.now()` when the request entered the app. */
  startedAt: number;
  /** Error code of the response, for the request log. */
  errorCode: string;
  /** CSP nonce of the demo page's script and style, set by Hono's `secureHeaders`. */
  secureHeadersNonce?: string;
}

/**
 * The Hono environment of the edge app. `Bindings` is the connection info
 * that `Deno.serve` passes as the handler's second argument; it is absent when
 * a test calls `app.request()` without it, so read it as `c.env?.remoteAddr`.
 */
export interface EdgeEnv {
  Variables: EdgeVariables;
  Bindings: { remoteAddr?: Deno.NetAddr };
}
