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
import { getLogLevels, isLogLevel, type LogLevel } from "@logtape/logtape";

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
  /** Lowest log level written. */
  logLevel: LogLevel;
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
  {
    name: "LOG_LEVEL",
    defaultValue: "info",
    description: "Lowest log level written: trace, debug, info, warning, error or fatal.",
  },
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

/** Options of {@linkcode readInteger}. */
interface ReadIntegerOptions {
  min: number;
  max: number;
  /** The effect of unsetting the variable, for the error message. Default: its documented default. */
  unsetHint?: string;
}

function readInteger(env: EnvReader, name: string, options: ReadIntegerOptions): number {
  const { min, max } = options;
  const text = readString(env, name);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    const unsetHint = options.unsetHint ?? `for the default ${defaultOf(name)}`;
    throw new ConfigError(
      `${name}="${text}" is invalid. Set an integer from ${min} to ${max}, or unset it ${unsetHint}.`,
    );
  }
  return value;
}

function readList(env: EnvReader, name: string): string[] {
  return readString(env, name).split(",").map((item) => item.trim()).filter(Boolean);
}

/**
 * Reads `HOST`: a host name or an IP address, without a scheme, a path or a
 * port. Only an IPv6 address may contain colons, and it has at least two.
 */
function readHost(env: EnvReader): string {
  const value = readString(env, "HOST");
  const isIpv6 = /^\[?[0-9a-fA-F:.]+\]?$/.test(value) && value.split(":").length >= 3;
  if (/[\s/@]/.test(value) || (value.includes(":") && !isIpv6)) {
    throw new ConfigError(
      `HOST="${value}" is invalid. Set a host name or an IP address without a scheme or a ` +
        "port, such as 127.0.0.1 or 0.0.0.0, and set the port with PORT.",
    );
  }
  return value;
}

/**
 * Reads `API_KEY`. A value that is set but contains no key is an error rather
 * than "no authentication", and the message never repeats the value because
 * it is a secret.
 */
function readApiKeys(env: EnvReader): string[] {
  const keys = readList(env, "API_KEY");
  const raw = env("API_KEY");
  if (keys.length === 0 && raw !== undefined && raw.trim() !== "") {
    throw new ConfigError(
      "API_KEY is set but contains no key, only commas and whitespace. Set one key or " +
        "several separated by commas, or unset API_KEY to turn authentication off.",
    );
  }
  const invalid = keys.findIndex((key) => !/^[\x21-\x7e]+$/.test(key));
  if (invalid >= 0) {
    throw new ConfigError(
      `API_KEY: key ${invalid + 1} of ${keys.length} contains whitespace or a character ` +
        "outside visible ASCII, which an `Authorization: Bearer <key>` header cannot carry. " +
        "Use only visible ASCII characters in keys.",
    );
  }
  return keys;
}

/** Checks one `CORS_ORIGINS` item, which must be exactly an origin as browsers send it. */
function checkOrigin(item: string): void {
  let origin: string | undefined;
  try {
    origin = new URL(item).origin;
  } catch {
    // Not a URL; `origin` stays undefined.
  }
  if (origin === item) return;
  const hint = origin && origin !== "null" ? ` Write it as ${origin}.` : "";
  throw new ConfigError(
    `CORS_ORIGINS: "${item}" is not an origin. Set scheme, host and optional port only, ` +
      `such as https://app.example, with no path or trailing slash.${hint}`,
  );
}

function readCorsOrigins(env: EnvReader): string[] {
  const origins = readList(env, "CORS_ORIGINS");
  if (origins.length === 0) {
    throw new ConfigError(
      `CORS_ORIGINS="${env("CORS_ORIGINS")}" contains no origin. Set * for any origin, ` +
        "or origins separated by commas, or unset it for the default *.",
    );
  }
  if (origins.includes("*")) {
    if (origins.length > 1) {
      throw new ConfigError(
        `CORS_ORIGINS="${env("CORS_ORIGINS")}" mixes * with origins, but * already allows ` +
          "every origin. Set * alone, or list the origins without *.",
      );
    }
    return origins;
  }
  origins.forEach(checkOrigin);
  return origins;
}

function readBackend(env: EnvReader): InferenceBackend {
  const value = readString(env, "TFJS_BACKEND");
  if (value !== "wasm" && value !== "cpu") {
    throw new ConfigError(`TFJS_BACKEND="${value}" is invalid. Set wasm or cpu.`);
  }
  return value;
}

function readLogLevel(env: EnvReader): LogLevel {
  const value = readString(env, "LOG_LEVEL");
  if (!isLogLevel(value)) {
    throw new ConfigError(
      `LOG_LEVEL="${value}" is invalid. Set one of ${getLogLevels().join(", ")}, or unset it ` +
        `for the default ${defaultOf("LOG_LEVEL")}.`,
    );
  }
  return value;
}

function readRateLimit(env: EnvReader): RateLimitConfig {
  const requestsPerMinute = readInteger(env, "RATE_LIMIT_PER_MINUTE", { min: 0, max: 1_000_000 });
  const burstText = env("RATE_LIMIT_BURST")?.trim();
  if (burstText === undefined || burstText === "") {
    return { requestsPerMinute, burst: requestsPerMinute };
  }
  const burst = readInteger(env, "RATE_LIMIT_BURST", {
    min: 1,
    max: 1_000_000,
    unsetHint: "to use RATE_LIMIT_PER_MINUTE",
  });
  if (requestsPerMinute === 0) {
    throw new ConfigError(
      `RATE_LIMIT_BURST="${burstText}" has no effect because RATE_LIMIT_PER_MINUTE is 0 ` +
        "(rate limit off). Set RATE_LIMIT_PER_MINUTE to turn the limit on, or unset " +
        "RATE_LIMIT_BURST.",
    );
  }
  return { requestsPerMinute, burst };
}

/**
 * Reads every setting from the environment. Throws {@linkcode ConfigError}
 * for a malformed value.
 */
export function readConfig(env: EnvReader): EdgeConfig {
  return {
    modelDir: readString(env, "MODEL_DIR"),
    hostname: readHost(env),
    port: readInteger(env, "PORT", { min: 0, max: 65_535 }),
    maxBodyBytes: readInteger(env, "MAX_BODY_BYTES", { min: 1, max: 2 ** 31 - 1 }),
    maxPixels: readInteger(env, "MAX_PIXELS", { min: 1, max: 1_000_000_000 }),
    requestTimeoutMs: readInteger(env, "REQUEST_TIMEOUT_MS", { min: 1, max: 600_000 }),
    corsOrigins: readCorsOrigins(env),
    apiKeys: readApiKeys(env),
    rateLimit: readRateLimit(env),
    decodeWorkers: readInteger(env, "DECODE_WORKERS", { min: 0, max: 64 }),
    backend: readBackend(env),
    logLevel: readLogLevel(env),
  };
}

/** The settings used when no variable is set. */
export const DEFAULT_CONFIG: Readonly<EdgeConfig> = readConfig(() => undefined);
