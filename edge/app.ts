/**
 * The Hono app of the edge service: routes, middleware and error handling,
 * without a server. `main.ts` serves it; tests call `app.request()`.
 *
 * Middleware runs in this order, outermost first: request id, request log,
 * security headers, CORS, request deadline and 405 detection. Then `/v1/*`
 * routes add the API key check and the rate limit. CORS comes before the API
 * key check because browsers send preflight requests without credentials.
 * With both keys and a rate limit, failed key checks are also limited per
 * client address, with the same rate and burst.
 *
 * @example
 * ```ts
 * import { createApp } from "./app.ts";
 * import { createImageIntake } from "./image/intake.ts";
 * import { Classifier } from "./model/classifier.ts";
 * import { ModelSlot } from "./model/model_slot.ts";
 *
 * const models = new ModelSlot(await Classifier.load("weights/default"));
 * const app = createApp({ models, intake: createImageIntake({ maxPixels: 50_000_000, workers: 0 }) });
 * const response = await app.request("/v1/model");
 * console.log(await response.json());
 * ```
 * @module
 */
import { type Context, Hono } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { getLogger } from "@logtape/logtape";
import { DEFAULT_CONFIG, type EdgeConfig } from "./config.ts";
import { renderDemoPage } from "./demo/page.ts";
import { ApiError, ERROR_CODES, type ErrorCode } from "./errors.ts";
import type { ImageIntake } from "./image/intake.ts";
import { apiKeyAuth, readBearerToken } from "./middleware/api_key/index.ts";
import { deadline } from "./middleware/deadline/index.ts";
import { clientAddressKey, rateLimit } from "./middleware/rate_limit/index.ts";
import { requestLog } from "./middleware/request_log/index.ts";
import type { ModelSlot } from "./model/model_slot.ts";
import { buildOpenApiDocument } from "./openapi/document.ts";
import { classifyRoute } from "./routes/classify.ts";
import { healthRoutes } from "./routes/health.ts";
import { modelRoute } from "./routes/model.ts";
import type { EdgeEnv } from "./types.ts";

const logger = getLogger(["waste-vision", "edge"]);

/** Dependencies and settings of {@linkcode createApp}. */
export interface AppOptions {
  /** The model, loaded or still loading. */
  models: ModelSlot;
  /** Decoding and preprocessing of uploads. */
  intake: ImageIntake;
  /** Settings; missing ones take the defaults of {@linkcode DEFAULT_CONFIG}. */
  config?: Partial<EdgeConfig>;
}

/** Picks the error code for an `HTTPException` that Hono itself throws, by its status. */
function codeForStatus(status: number): ErrorCode {
  const match = Object.entries(ERROR_CODES).find(([, spec]) => spec.status === status);
  return match ? match[0] as ErrorCode : "internal_error";
}

/**
 * Converts any thrown value into an {@linkcode ApiError}. Unexpected errors
 * become `internal_error`; their cause is logged with the request id and
 * never sent to the client.
 */
export function toApiError(error: unknown, c: Context<EdgeEnv>): ApiError {
  if (error instanceof ApiError) return error;
  const id = c.get("requestId");
  if (error instanceof HTTPException && error.status < 500) {
    return new ApiError(codeForStatus(error.status), error.message, { cause: error });
  }
  logger.error("Request {requestId} to {method} {path} failed: {error}", {
    requestId: id,
    method: c.req.method,
    path: c.req.path,
    error,
  });
  return new ApiError(
    "internal_error",
    `Internal error. Report request id ${id} to the operator.`,
    { cause: error },
  );
}

/** Sends `error` as the JSON error body, keeping headers set earlier (request id, CORS). */
export function sendError(c: Context<EdgeEnv>, error: ApiError): Response {
  c.set("errorCode", error.code);
  return c.json(error.toBody(), error.status, error.headers);
}

function resolveConfig(config: Partial<EdgeConfig> = {}): EdgeConfig {
  return { ...DEFAULT_CONFIG, ...config };
}

function addMiddleware(app: Hono<EdgeEnv>, config: EdgeConfig): void {
  app.use(async function markStart(c, next) {
    c.set("startedAt", performance.now());
    await next();
  });
  app.use(requestId());
  app.use(requestLog());
  app.use(secureHeaders({
    crossOriginResourcePolicy: false,
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: [NONCE],
      styleSrc: [NONCE],
      // blob: for the photo preview, data: for the page's empty favicon.
      imgSrc: ["'self'", "blob:", "data:"],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  }));
  app.use(cors({
    origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
    exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining"],
    maxAge: 600,
  }));
  app.use(deadline({ timeoutMs: config.requestTimeoutMs }));
  app.use(methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) => {
      const message = `${c.req.method} is not allowed on ${c.req.path}. Use ${
        methods.join(" or ")
      }.`;
      return sendError(
        c as Context<EdgeEnv>,
        new ApiError("method_not_allowed", message, { headers: { Allow: methods.join(", ") } }),
      );
    },
  }));
  const rateLimitOn = config.rateLimit.requestsPerMinute > 0;
  if (config.apiKeys.length > 0) {
    app.use(
      "/v1/*",
      apiKeyAuth({
        keys: config.apiKeys,
        failureLimit: rateLimitOn ? config.rateLimit : undefined,
      }),
    );
  }
  if (rateLimitOn) {
    app.use(
      "/v1/*",
      rateLimit({
        ...config.rateLimit,
        // With API keys, the key has passed the check above, so it names the client.
        keyOf: config.apiKeys.length > 0 ? (c) => `key:${readBearerToken(c)}` : clientAddressKey,
      }),
    );
  }
}

function addRoutes(app: Hono<EdgeEnv>, options: AppOptions, config: EdgeConfig): void {
  const openApiDocument = buildOpenApiDocument();
  app.get("/", (c) => c.html(renderDemoPage(c.get("secureHeadersNonce") ?? "")));
  app.get("/openapi.json", (c) => c.json(openApiDocument));
  app.route("/", healthRoutes(options.models));
  app.route("/v1", modelRoute(options.models));
  app.route(
    "/v1",
    classifyRoute({
      models: options.models,
      intake: options.intake,
      maxBodyBytes: config.maxBodyBytes,
    }),
  );
}

/** Creates the app. */
export function createApp(options: AppOptions): Hono<EdgeEnv> {
  const config = resolveConfig(options.config);
  const app = new Hono<EdgeEnv>();
  addMiddleware(app, config);
  addRoutes(app, options, config);
  app.notFound((c) =>
    sendError(
      c,
      new ApiError(
        "not_found",
        `No route for ${c.req.method} ${c.req.path}. See GET /openapi.json for the routes.`,
      ),
    )
  );
  app.onError((error, c) => sendError(c, toApiError(error, c)));
  return app;
}
