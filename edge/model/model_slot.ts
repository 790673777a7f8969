/**
 * The process's one model and its loading state. The server starts before
 * the model is ready: `/readyz` and the classify route read the state here and
 * return `model_unavailable` (503) until loading has finished.
 *
 * @example
 * ```ts
 * import { ModelSlot } from "./model_slot.ts";
 * import { Classifier } from "./classifier.ts";
 * const slot = new ModelSlot();
 * slot.load(() => Classifier.load("weights/default"));
 * ```
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ModelFormatError } from "../../shared/model/metadata.ts";
import { ApiError } from "../errors.ts";
import type { Classifier } from "./classifier.ts";

const logger = getLogger(["waste-vision", "edge", "model"]);

/** Lifecycle state of the model. */
export type ModelState = "idle" | "loading" | "ready" | "failed";

/** Holds the classifier once it is loaded. */
export class ModelSlot {
  #state: ModelState = "idle";
  #classifier?: Classifier;
  #failure?: string;

  /** Creates a slot, already ready when `classifier` is given. */
  constructor(classifier?: Classifier) {
    if (classifier) this.#setReady(classifier);
  }

  /** The current state. */
  get state(): ModelState {
    return this.#state;
  }

  /** The message of the load failure, when the state is `failed`. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /**
   * Runs `loader` and stores its classifier. A failure is logged and kept in
   * {@linkcode failure}; the returned promise never rejects.
   */
  async load(loader: () => Promise<Classifier>): Promise<void> {
    if (this.#state === "loading") {
      throw new Error("ModelSlot.load: a load is already running.");
    }
    this.#state = "loading";
    const startedAt = performance.now();
    try {
      this.#setReady(await loader());
      const { modelId, modelVersion } = this.#classifier!.metadata;
      logger.info("Model {modelId} {modelVersion} ready on {backend} after {ms} ms", {
        modelId,
        modelVersion,
        backend: this.#classifier!.backend,
        ms: Math.round(performance.now() - startedAt),
      });
    } catch (error) {
      this.#state = "failed";
      this.#failure = error instanceof Error ? error.message : String(error);
      // A ModelFormatError names the folder and the fix, so its stack trace adds nothing.
      if (error instanceof ModelFormatError) {
        logger.error("The model failed to load: {message}", { message: error.message });
      } else {
        logger.error("The model failed to load: {error}", { error });
      }
    }
  }

  #setReady(classifier: Classifier): void {
    this.#classifier = classifier;
    this.#state = "ready";
    this.#failure = undefined;
  }

  /** Returns the classifier, or throws `model_unavailable` when it is not ready. */
  require(): Classifier {
    if (this.#state === "ready") return this.#classifier!;
    if (this.#state === "failed") {
      throw new ApiError(
        "model_unavailable",
        "The model failed to load, so the service cannot classify. The operator must check the server log and MODEL_DIR.",
      );
    }
    throw new ApiError(
      "model_unavailable",
      "The model is still loading. Retry in a few seconds; GET /readyz returns 200 once it is ready.",
      { headers: { "Retry-After": "5" } },
    );
  }
}
