/**
 * `POST /v1/classify`: classifies one uploaded photo.
 *
 * The stages are timed separately: decode (header check and pixel decode,
 * EXIF orientation applied), preprocess (resize, crop, normalize), inference,
 * and the total since the request entered the app, upload included.
 * @module
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import type { ImageFormat, RgbImage } from "../../shared/image/types.ts";
import { bodyLimit } from "../middleware/body_limit/index.ts";
import type { ImageIntake } from "../image/intake.ts";
import type { ModelSlot } from "../model/model_slot.ts";
import type { Prediction } from "../model/classifier.ts";
import type { EdgeEnv } from "../types.ts";
import { extractImageBytes, parseTopK } from "./classify_request.ts";

/** The JSON body of a successful classification. */
export interface ClassifyResponse {
  /** The `top_k` most probable classes, highest score first. */
  predictions: Prediction[];
  /** The most probable class. */
  label: string;
  /**
   * True when the top score is under the threshold chosen on val at export,
   * so the app may ask the user to retake the photo. Always false for a
   * model without calibration.
   */
  uncertain: boolean;
  model: { id: string; version: string };
  /** Size after EXIF orientation, and the format found from the bytes. */
  image: { width: number; height: number; format: ImageFormat };
  /** Milliseconds spent in each stage. */
  timings_ms: { decode: number; preprocess: number; inference: number; total: number };
  request_id: string;
}

/** Dependencies of the classify route. */
export interface ClassifyRouteOptions {
  models: ModelSlot;
  intake: ImageIntake;
  maxBodyBytes: number;
}

/** Returns the upright size of the uploaded image, also when it was decoded at reduced scale. */
function displayedSize(image: RgbImage): { width: number; height: number } {
  const reduced = image.reducedDecode;
  if (reduced) return { width: reduced.fullWidth, height: reduced.fullHeight };
  return { width: image.width, height: image.height };
}

function elapsedSince(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 10) / 10;
}

async function classify(c: Context<EdgeEnv>, options: ClassifyRouteOptions): Promise<Response> {
  const classifier = options.models.require();
  const { classNames } = classifier.metadata;
  const topK = parseTopK(c.req.query("top_k"), classNames.length);
  const bytes = await extractImageBytes(c.var.body, c.req.header("content-type"));
  const deadline = c.var.deadline;

  let stageStart = performance.now();
  const decoded = await options.intake.decode(bytes, {
    signal: deadline,
    input: classifier.metadata.input,
  });
  const decodeMs = elapsedSince(stageStart);
  deadline?.throwIfAborted();

  stageStart = performance.now();
  const input = options.intake.preprocess(decoded.image, classifier.metadata.input);
  const preprocessMs = elapsedSince(stageStart);
  deadline?.throwIfAborted();

  stageStart = performance.now();
  const predictions = classifier.rank(classifier.predict(input), topK);
  const inferenceMs = elapsedSince(stageStart);

  const body: ClassifyResponse = {
    predictions,
    label: predictions[0].label,
    uncertain: classifier.isUncertain(predictions[0].score),
    model: { id: classifier.metadata.modelId, version: classifier.metadata.modelVersion },
    image: { ...displayedSize(decoded.image), format: decoded.format },
    timings_ms: {
      decode: decodeMs,
      preprocess: preprocessMs,
      inference: inferenceMs,
      total: elapsedSince(c.var.startedAt),
    },
    request_id: c.var.requestId,
  };
  return c.json(body);
}

/**
 * Creates the sub-app with `POST /classify`, to mount under `/v1`. The model
 * state and `top_k` are checked before the body is read, so a client learns
 * of a 503 or a bad parameter without uploading the photo first.
 */
export function classifyRoute(options: ClassifyRouteOptions): Hono<EdgeEnv> {
  const checkBeforeUpload: MiddlewareHandler<EdgeEnv> = async (c, next) => {
    const classifier = options.models.require();
    parseTopK(c.req.query("top_k"), classifier.metadata.classNames.length);
    await next();
  };
  return new Hono<EdgeEnv>().post(
    "/classify",
    checkBeforeUpload,
    bodyLimit({ maxBytes: options.maxBodyBytes }),
    (c) => classify(c, options),
  );
}
