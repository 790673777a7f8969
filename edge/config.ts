/**
 * Settings of the edge service, read from environment variables.
 *
 * Every variable is optional. {@linkcode ENV_VARIABLES} lists each one with
 * its default, and {@linkcode readConfig} rejects a malformed value with a
 * {@linkcode ConfigError} that names the variable, the value and the fix.
 *
 * @example
 * ```ts
 * import { readConfig } from "./config.ts";
 * const config = readConfig((name) => Deno.env.get(name));
 * console.log(config.port, config.maxBodyBytes);
 * ```
 * @module
 */

/** TensorFlow.js backends the edge can run on. Deno Deploy has no WebGPU. */
export type InferenceBackend = "wasm" | "cpu";

/** Per-client rate limit: a token bucket refilled at a steady rate. */
export interface RateLimitConfig {
  /** Tokens added per minute. 0 turns the limit off. */
  requestsPerMinute: number;
  /** Bucket capacity, that is the largest burst of requests accepted at once. */
  burst: number;
}

/** Every setting of the service, with defaults applied. */
export interface EdgeConfig {
  /** Model folder written by the trainer's export. */
  modelDir: string;
  /** Address the server listens on. */
  hostname: string;
  /** TCP port the server listens on. */
  port: number;
  /** Maximum request body size in bytes, counted while the body streams in. */
  maxBodyBytes: number;
  /** Maximum image size in pixels (width times height), checked before decoding. */
  maxPixels: number;
  /** Deadline for a whole request, upload included, in milliseconds. */
  requestTimeoutMs: number;
  /** Origins allowed by CORS; `["*"]` allows any origin. */
  corsOrigins: string[];
  /** Accepted API keys. Empty: no authentication. */
  apiKeys: string[];
  /** Per-client rate limit. */
  rateLimit: RateLimitConfig;
  /** Web Workers that decode images off the main thread. 0 decodes on the main thread. */
  decodeWorkers: number;
  /** TensorFlow.js backend tried first; `cpu` is the fallback when `wasm` fails. */
  backend: InferenceBackend;
}

/** A setting given in the environment is malformed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Documentation of one environment variable. */
export interface EnvVariable {
  name: string;
  /** The default as written in the environment. */
  defaultValue: string;
  description: string;
}

/** The environment variables the service reads, with their defaults. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { name: "MODEL_DIR", defaultValue: "weights/default", description: "Model folder to serve." },
  { name: "HOST", defaultValue: "0.0.0.0", description: "Address to listen on." },
  { name: "PORT", defaultValue: "8000", description: "TCP port to listen on." },
  {
    name: "MAX_BODY_BYTES",
    defaultValue: "15728640",
    description: "Maximum request body in bytes (15 MiB).",
  },
  {
    name: "MAX_PIXELS",
    defaultValue: "50000000",
    description: "Maximum image width times height (50 megapixels).",
  },
  {
    name: "REQUEST_TIMEOUT_MS",
    defaultValue: "10000",
    description: "Deadline for a whole request in milliseconds.",
  },
  {
    name: "CORS_ORIGINS",
    defaultValue: "*",
    description: "Comma-separated origins allowed by CORS, or * for any.",
  },
  {
    name: "API_KEY",
    defaultValue: "",
    description: "Comma-separated API keys. Unset or empty: no authentication.",
  },
  {
    name: "RATE_LIMIT_PER_MINUTE",
    defaultValue: "0",
    description: "Requests per minute per client (API key or address). 0: off.",
  },
  {
    name: "RATE_LIMIT_BURST",
    defaultValue: "",
    description: "Bucket capacity. Unset: equal to RATE_LIMIT_PER_MINUTE.",
  },
  {
    name: "DECODE_WORKERS",
    defaultValue: "2",
    description: "Web Workers that decode images. 0: decode on the main thread.",
  },
  {
    name: "TFJS_BACKEND",
    defaultValue: "wasm",
    description: "TensorFlow.js backend: wasm (falls back to cpu) or cpu.",
  },
  { name: "LOG_LEVEL", defaultValue: "info", description: "Lowest log level written." },
];

/** Reads one environment variable; `undefined` when it is unset. */
export type EnvReader = (name: string) => string | undefined;

function defaultOf(name: string): string {
  const variable = ENV_VARIABLES.find((entry) => entry.name === name);
  if (!variable) throw new Error(`No default is documented for ${name}.`);
  return variable.defaultValue;
}

function readString(env: EnvReader, name: string): string {
  const value = env(name)?.trim();
  return value === undefined || value === "" ? defaultOf(name) : value;
}

function readInteger(env: EnvReader, name: string, min: number, max: number): number {
  const text = readString(env, name);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name}="${text}" is invalid. Set an integer from ${min} to ${max}, or unset it for ` +
        `the default ${defaultOf(name) || "(none)"}.`,
    );
  }
  return value;
}

function readList(env: EnvReader, name: string): string[] {
  return readString(env, name).split(",").map((item) => item.trim()).filter(Boolean);
}

function readBackend(env: EnvReader): InferenceBackend {
  const value = readString(env, "TFJS_BACKEND");
  if (value !== "wasm" && value !== "cpu") {
    throw new ConfigError(`TFJS_BACKEND="${value}" is invalid. Set wasm or cpu.`);
  }
  return value;
}

function readRateLimit(env: EnvReader): RateLimitConfig {
  const requestsPerMinute = readInteger(env, "RATE_LIMIT_PER_MINUTE", 0, 1_000_000);
  const burstText = env("RATE_LIMIT_BURST")?.trim();
  if (burstText === undefined || burstText === "") {
    return { requestsPerMinute, burst: requestsPerMinute };
  }
  return { requestsPerMinute, burst: readInteger(env, "RATE_LIMIT_BURST", 1, 1_000_000) };
}

/**
 * Reads every setting from the environment. Throws {@linkcode ConfigError}
 * for a malformed value.
 */
export function readConfig(env: EnvReader): EdgeConfig {
  return {
    modelDir: readString(env, "MODEL_DIR"),
    hostname: readString(env, "HOST"),
    port: readInteger(env, "PORT", 0, 65_535),
    maxBodyBytes: readInteger(env, "MAX_BODY_BYTES", 1, 2 ** 31 - 1),
    maxPixels: readInteger(env, "MAX_PIXELS", 1, 1_000_000_000),
    requestTimeoutMs: readInteger(env, "REQUEST_TIMEOUT_MS", 1, 600_000),
    corsOrigins: readList(env, "CORS_ORIGINS"),
    apiKeys: readList(env, "API_KEY"),
    rateLimit: readRateLimit(env),
    decodeWorkers: readInteger(env, "DECODE_WORKERS", 0, 64),
    backend: readBackend(env),
  };
}

/** The settings used when no variable is set. */
export const DEFAULT_CONFIG: Readonly<EdgeConfig> = readConfig(() => undefined);
