/**
 * A minimal Hono app for middleware tests: the middleware under test, one
 * route, and an error handler that sends an `ApiError` as the service does.
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ApiError } from "../../../edge/errors.ts";
import type { EdgeEnv } from "../../../edge/types.ts";

/**
 * Creates an app with `middleware` on every path and `GET /` and `POST /`
 * returning `{ok: true}`. Like the service, it stores the error code of an
 * error response in `c.var.errorCode`.
 */
export function appWith(...middleware: MiddlewareHandler<EdgeEnv>[]): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  app.use(...middleware);
  app.on(["GET", "POST"], "/", (c) => c.json({ ok: true }));
  app.onError((error, c) => {
    if (!(error instanceof ApiError)) throw error;
    c.set("errorCode", error.code);
    return c.json(error.toBody(), error.status, error.headers);
  });
  return app;
}
