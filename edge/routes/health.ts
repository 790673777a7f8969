/**
 * `GET /healthz` (the process is alive) and `GET /readyz` (the model is
 * loaded and warmed, so classify requests will be served).
 * @module
 */
import { Hono } from "hono";
import type { ModelSlot } from "../model/model_slot.ts";
import type { EdgeEnv } from "../types.ts";

/** Creates the sub-app with both probes. */
export function healthRoutes(models: ModelSlot): Hono<EdgeEnv> {
  return new Hono<EdgeEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", (c) => {
      const { metadata, backend } = models.require();
      return c.json({
        status: "ready",
        model: { id: metadata.modelId, version: metadata.modelVersion },
        backend,
      });
    });
}
