/**
 * Logging setup shared by the trainer, the tools and the edge service. Each
 * module gets its own logger with {@linkcode getLogger}, for example
 * `getLogger(["waste-vision", "train"])`, so lines show where they come from.
 *
 * Built on LogTape, which runs unchanged in Deno, browsers and Deno Deploy.
 * @module
 */
import {
  configure,
  getConsoleSink,
  getLogger,
  getTextFormatter,
  type LogLevel,
} from "@logtape/logtape";

export { getLogger };

let configured = false;

/** Options for {@linkcode setupLogging}. */
export interface LoggingOptions {
  /** Lowest level that is written. Default: `"info"`, or `LOG_LEVEL` from the environment. */
  level?: LogLevel;
}

/**
 * Sends every `waste-vision` logger to the console. Safe to call more than
 * once; only the first call takes effect.
 */
export async function setupLogging(options: LoggingOptions = {}): Promise<void> {
  if (configured) return;
  configured = true;
  const fromEnv = readLevelFromEnv();
  await configure({
    // Strings are written bare, so paths and multi-line messages read as
    // text rather than as quoted JavaScript literals.
    sinks: {
      console: getConsoleSink({
        formatter: getTextFormatter({ value: "bare" }),
      }),
    },
    loggers: [
      {
        category: ["waste-vision"],
        lowestLevel: options.level ?? fromEnv ?? "info",
        sinks: ["console"],
      },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

function readLevelFromEnv(): LogLevel | undefined {
  try {
    const value = Deno.env.get("LOG_LEVEL");
    const levels = ["trace", "debug", "info", "warning", "error", "fatal"];
    if (!value) return undefined;
    if (levels.includes(value)) return value as LogLevel;
    console.error(
      `warning: LOG_LEVEL="${value}" is invalid, so the default info applies. ` +
        `Set one of ${levels.join(", ")}.`,
    );
    return undefined;
  } catch {
    // Without --allow-env the default level applies.
    return undefined;
  }
}
