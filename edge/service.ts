/**
 * Wires the edge service together from its settings: the image intake, the
 * model slot with the model loading in the background, and the app.
 *
 * @example
 * ```ts
 * import { readConfig } from "./config.ts";
 * import { startService } from "./service.ts";
 * const service = startService(readConfig((name) => Deno.env.get(name)));
 * Deno.serve({ port: 8000 }, service.app.fetch);
 * await service.ready;
 * ```
 * @module
 */
import type { Hono } from "hono";
import { createApp } from "./app.ts";
import type { EdgeConfig } from "./config.ts";
import { createImageIntake, type ImageIntake } from "./image/intake.ts";
import { Classifier } from "./model/classifier.ts";
import { checkModelDir } from "./model/model_dir.ts";
import { ModelSlot } from "./model/model_slot.ts";
import type { EdgeEnv } from "./types.ts";

/** A running edge service without its HTTP server. */
export interface EdgeService {
  app: Hono<EdgeEnv>;
  models: ModelSlot;
  intake: ImageIntake;
  /**
   * Settles when the model has loaded or failed to load; never rejects.
   * `models.state` records which.
   */
  ready: Promise<void>;
  /** Stops the decoder workers and frees the model. */
  close(): void;
}

/**
 * Creates the app and starts loading the model from `config.modelDir`.
 * The app serves requests at once. Until the model is ready, the classify
 * and model routes return `model_unavailable`, and they keep doing so when
 * the folder is missing or invalid (the load failure is logged once).
 */
export function startService(config: EdgeConfig): EdgeService {
  const models = new ModelSlot();
  const intake = createImageIntake({ maxPixels: config.maxPixels, workers: config.decodeWorkers });
  const app = createApp({ models, intake, config });
  const ready = models.load(async () => {
    await checkModelDir(config.modelDir);
    return await Classifier.load(config.modelDir, { backend: config.backend });
  });
  return {
    app,
    models,
    intake,
    ready,
    close() {
      intake.close();
      if (models.state === "ready") models.require().dispose();
    },
  };
}
