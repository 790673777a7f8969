/**
 * The error codes of the edge API and the exception that carries them.
 *
 * Every error response has the body `{"error": {"code", "message"}}` with a
 * code from {@linkcode ERROR_CODES}. The list is part of API version 1:
 * clients branch on `code`, so codes are only ever added, never renamed.
 *
 * @example
 * ```ts
 * import { ApiError } from "./errors.ts";
 * throw new ApiError("invalid_parameter", 'top_k must be an integer from 1 to 6, got "abc".');
 * ```
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";

/** One entry of the error-code table: the HTTP status and when it is sent. */
export interface ErrorCodeSpec {
  /** HTTP status sent with the code. */
  status: ContentfulStatusCode;
  /** When the service sends the code, in one sentence for the API docs. */
  description: string;
}

/** The fixed list of error codes, with their HTTP status and meaning. */
export const ERROR_CODES = {
  empty_body: {
    status: 400,
    description: "The request has no body, or the multipart field `image` is empty.",
  },
  invalid_image: {
    status: 400,
    description: "The bytes start like an accepted format, but the data is corrupt or truncated.",
  },
  invalid_parameter: {
    status: 400,
    description:
      "A query parameter or the request shape is invalid, such as `top_k` out of range or a multipart body without the field `image`.",
  },
  unauthorized: {
    status: 401,
    description:
      "An API key is configured and the request has no `Authorization: Bearer <key>` header, or the key does not match.",
  },
  not_found: {
    status: 404,
    description: "No route matches the path.",
  },
  method_not_allowed: {
    status: 405,
    description:
      "The path exists but not for this HTTP method. The `Allow` header lists the methods.",
  },
  request_timeout: {
    status: 408,
    description:
      "The whole request, upload included, took longer than the deadline (REQUEST_TIMEOUT_MS).",
  },
  payload_too_large: {
    status: 413,
    description: "The request body is larger than MAX_BODY_BYTES, counted while it streams in.",
  },
  unsupported_media_type: {
    status: 415,
    description:
      "No accepted decoder recognizes the bytes by their signature, whatever the Content-Type or file name claims. The message lists the accepted formats.",
  },
  image_too_large: {
    status: 422,
    description:
      "The image header declares more pixels than MAX_PIXELS. It is checked before decoding.",
  },
  rate_limited: {
    status: 429,
    description:
      "The client used up its request budget, or its address made too many failed API key checks. The `Retry-After` header gives the seconds to wait.",
  },
  internal_error: {
    status: 500,
    description:
      "An unexpected failure. The server logs the cause with the request id; the client gets no stack trace.",
  },
  model_unavailable: {
    status: 503,
    description:
      "The model is still loading or failed to load. `GET /readyz` reports when it is ready.",
  },
} as const satisfies Record<string, ErrorCodeSpec>;

/** One of the documented error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** Options for {@linkcode ApiError}. */
export interface ApiErrorOptions {
  /** Extra response headers, for example `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  /** The underlying error, logged by the server and never sent to the client. */
  cause?: unknown;
}

/**
 * An error that the service sends to the client with a documented code. It extends
 * Hono's `HTTPException`, so Hono middleware that expects one (such as
 * `timeout`) accepts it, and the app's error handler turns it into the JSON
 * body {@linkcode ErrorBody}.
 */
export class ApiError extends HTTPException {
  /** The documented error code. */
  readonly code: ErrorCode;
  /** Headers added to the error response. */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(ERROR_CODES[code].status, { message, cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.headers = options.headers ?? {};
  }

  /** Builds the JSON body sent to the client. */
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }

  /** Builds the JSON response, with the extra headers. */
  override getResponse(): Response {
    return Response.json(this.toBody(), { status: this.status, headers: this.headers });
  }
}

/** Returns whether `value` is one of the documented error codes. */
export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}
