/**
 * The OpenAPI 3.1 document served at `GET /openapi.json`. Error responses are
 * generated from {@linkcode ERROR_CODES}, so every documented code appears
 * with its status and an example body.
 * @module
 */
import { ERROR_CODES, type ErrorCode } from "../errors.ts";

type Json = Record<string, unknown>;

/** Error codes that any route under `/v1` can return besides its own. */
const V1_COMMON_ERRORS: ErrorCode[] = [
  "unauthorized",
  "rate_limited",
  "request_timeout",
  "method_not_allowed",
  "internal_error",
];

const CLASSIFY_ERRORS: ErrorCode[] = [
  "empty_body",
  "invalid_image",
  "invalid_parameter",
  "payload_too_large",
  "unsupported_media_type",
  "image_too_large",
  "model_unavailable",
  ...V1_COMMON_ERRORS,
];

const PUBLIC_ROUTE_ERRORS: ErrorCode[] = [
  "request_timeout",
  "method_not_allowed",
  "internal_error",
];

function ref(name: string): Json {
  return { $ref: `#/components/schemas/${name}` };
}

/** A typical message for each code, as the service writes it. */
const EXAMPLE_MESSAGES: Record<ErrorCode, string> = {
  empty_body: "The request body is empty. Send the photo's bytes.",
  invalid_image: "The JPEG data is truncated or corrupt. Send the complete file.",
  invalid_parameter: 'top_k must be an integer from 1 to 6 (the number of classes), got "0".',
  unauthorized: "The API key is not valid. Check the key, or ask the operator for one.",
  not_found: "No route for GET /v2/classify. See GET /openapi.json for the routes.",
  method_not_allowed: "GET is not allowed on /v1/classify. Use POST.",
  request_timeout:
    "The request did not finish within the 10000 ms deadline. Upload a smaller photo, check the connection, and retry.",
  payload_too_large:
    "The request body passed 15728641 bytes while streaming, over the limit of 15728640 bytes. Downscale the photo before uploading (about 1024 pixels on the longer side is enough).",
  unsupported_media_type:
    "The bytes are not an image format this service decodes. Send JPEG, PNG, GIF or WebP.",
  image_too_large:
    "The image is 20000x20000 (400000000 pixels), over the limit of 50000000 pixels. Downscale it before uploading.",
  rate_limited: "Too many requests from this client. Retry in 4 s.",
  internal_error:
    "Internal error. Report request id 0b7c7f0e-1f0a-4c4b-9a43-2f1c7a0d9c11 to the operator.",
  model_unavailable:
    "The model is still loading. Retry in a few seconds; GET /readyz returns 200 once it is ready.",
};

function errorExample(code: ErrorCode): Json {
  return {
    summary: ERROR_CODES[code].description,
    value: { error: { code, message: EXAMPLE_MESSAGES[code] } },
  };
}

/** Builds the error responses of `codes`, grouped by HTTP status. */
export function errorResponses(codes: ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: group.map((code) => `\`${code}\`: ${ERROR_CODES[code].description}`).join(
        "\n\n",
      ),
      content: {
        "application/json": {
          schema: ref("Error"),
          examples: Object.fromEntries(group.map((code) => [code, errorExample(code)])),
        },
      },
    };
  }
  return responses;
}

const SCHEMAS: Record<string, Json> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", enum: Object.keys(ERROR_CODES) },
          message: { type: "string", description: "What failed, on which value, and what to do." },
        },
      },
    },
  },
  Prediction: {
    type: "object",
    required: ["label", "score"],
    properties: {
      label: { type: "string" },
      score: {
        type: "number",
        minimum: 0,
        maximum: 1,
        description:
          "Calibrated probability: softmax of the logits divided by the model's temperature.",
      },
    },
  },
  ClassifyResponse: {
    type: "object",
    required: ["predictions", "label", "uncertain", "model", "image", "timings_ms", "request_id"],
    properties: {
      predictions: { type: "array", items: ref("Prediction"), description: "Highest score first." },
      label: { type: "string", description: "The most probable class." },
      uncertain: {
        type: "boolean",
        description:
          "True when the top score is under the threshold chosen on the validation set at export; the app may ask for another photo. False for a model without calibration.",
      },
      model: ref("ModelRef"),
      image: {
        type: "object",
        required: ["width", "height", "format"],
        properties: {
          width: { type: "integer", description: "Pixels, after EXIF orientation." },
          height: { type: "integer", description: "Pixels, after EXIF orientation." },
          format: { type: "string", enum: ["jpeg", "png", "gif", "webp", "heic"] },
        },
      },
      timings_ms: {
        type: "object",
        required: ["decode", "preprocess", "inference", "total"],
        properties: Object.fromEntries(
          ["decode", "preprocess", "inference", "total"].map((name) => [name, { type: "number" }]),
        ),
      },
      request_id: { type: "string" },
    },
  },
  ModelRef: {
    type: "object",
    required: ["id", "version"],
    properties: { id: { type: "string" }, version: { type: "string" } },
  },
  ModelResponse: {
    type: "object",
    required: ["model", "labels", "input", "training", "calibration", "backend"],
    properties: {
      model: {
        type: "object",
        required: ["id", "version", "architecture", "created_at"],
        properties: {
          id: { type: "string" },
          version: { type: "string" },
          architecture: { type: "object" },
          created_at: { type: "string", format: "date-time" },
        },
      },
      labels: { type: "array", items: { type: "string" }, description: "In output order." },
      input: {
        type: "object",
        required: ["size", "resize_ratio", "mean", "std"],
        properties: {
          size: { type: "integer", description: "Side of the square crop in pixels." },
          resize_ratio: { type: "number" },
          mean: { type: "array", items: { type: "number" }, minItems: 3, maxItems: 3 },
          std: { type: "array", items: { type: "number" }, minItems: 3, maxItems: 3 },
        },
      },
      training: {
        type: ["object", "null"],
        properties: {
          best_epoch: { type: "integer" },
          epochs: { type: "integer" },
          train_accuracy: { type: "number" },
          val_accuracy: { type: "number" },
          val_macro_f1: { type: "number" },
          dataset_sizes: { type: "object", additionalProperties: { type: "integer" } },
        },
      },
      calibration: {
        type: ["object", "null"],
        properties: {
          temperature: { type: "number" },
          uncertain_threshold: { type: "number" },
          method: { type: "string" },
          val_flagged_share: { type: "number" },
          val_accuracy_kept: { type: "number" },
        },
      },
      backend: { type: "string", enum: ["wasm", "cpu"] },
    },
  },
};

function jsonResponse(description: string, schema: Json): Json {
  return { description, content: { "application/json": { schema } } };
}

const CLASSIFY_OPERATION: Json = {
  operationId: "classify",
  summary: "Classify one photo",
  description:
    "Send the photo as multipart/form-data in the file field `image`, or as the raw bytes with an `image/*` Content-Type. The format is recognized from the bytes (JPEG, PNG, GIF first frame, WebP), and EXIF orientation is applied. Downscale on the device first: about 1024 pixels on the longer side keeps the upload small and does not change the predictions much, because the model sees a small square crop.",
  parameters: [{
    name: "top_k",
    in: "query",
    required: false,
    description: "Number of predictions, from 1 to the number of classes. Default: 3.",
    schema: { type: "integer", minimum: 1, default: 3 },
  }],
  requestBody: {
    required: true,
    content: {
      "multipart/form-data": {
        schema: {
          type: "object",
          required: ["image"],
          properties: { image: { type: "string", contentMediaType: "application/octet-stream" } },
        },
      },
      "image/*": { schema: { type: "string", contentMediaType: "image/*" } },
      "application/octet-stream": { schema: { type: "string" } },
    },
  },
  responses: {
    "200": jsonResponse("The predictions.", ref("ClassifyResponse")),
    ...errorResponses(CLASSIFY_ERRORS),
  },
};

function paths(): Record<string, Json> {
  return {
    "/v1/classify": { post: CLASSIFY_OPERATION },
    "/v1/model": {
      get: {
        operationId: "getModel",
        summary: "Labels, input size, version and training metrics of the served model",
        responses: {
          "200": jsonResponse("The model description.", ref("ModelResponse")),
          ...errorResponses(["model_unavailable", ...V1_COMMON_ERRORS]),
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "getHealth",
        summary: "Liveness: the process is up",
        security: [],
        responses: {
          "200": jsonResponse("Alive.", {
            type: "object",
            properties: { status: { const: "ok" } },
          }),
          ...errorResponses(PUBLIC_ROUTE_ERRORS),
        },
      },
    },
    "/readyz": {
      get: {
        operationId: "getReadiness",
        summary: "Readiness: the model is loaded and warmed",
        security: [],
        responses: {
          "200": jsonResponse("Ready.", {
            type: "object",
            properties: {
              status: { const: "ready" },
              model: ref("ModelRef"),
              backend: { type: "string" },
            },
          }),
          ...errorResponses(["model_unavailable", ...PUBLIC_ROUTE_ERRORS]),
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "getOpenApi",
        summary: "This document",
        security: [],
        responses: {
          "200": jsonResponse("OpenAPI 3.1 document.", { type: "object" }),
          ...errorResponses(PUBLIC_ROUTE_ERRORS),
        },
      },
    },
    "/": {
      get: {
        operationId: "getDemoPage",
        summary: "Demo page: pick or drop a photo and see the predictions",
        security: [],
        responses: {
          "200": {
            description: "HTML page.",
            content: { "text/html": { schema: { type: "string" } } },
          },
          ...errorResponses(PUBLIC_ROUTE_ERRORS),
        },
      },
    },
  };
}

/**
 * Builds the OpenAPI 3.1 document. Unknown paths return `not_found`, which
 * is listed under `components.responses` because it belongs to no path.
 */
export function buildOpenApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "waste-vision edge API",
      version: "1.0.0",
      description:
        'Classifies photos of household waste. Uploads are never stored or logged. Errors are JSON `{"error": {"code", "message"}}` with a code from a fixed list; every response carries an `X-Request-Id` header.',
    },
    security: [{}, { bearerAuth: [] }],
    paths: paths(),
    components: {
      schemas: SCHEMAS,
      responses: { NotFound: errorResponses(["not_found"])["404"] },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description:
            "Required on /v1 routes only when the server sets API_KEY: `Authorization: Bearer <key>`.",
        },
      },
    },
  };
}
