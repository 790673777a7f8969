/**
 * Entry point for `deno serve edge/main.ts` and Deno Deploy: reads the
 * settings from the environment, starts loading the model, and exports the
 * app's `fetch` as the default export.
 *
 * `deno serve` takes the port from its `--port` flag, not from `PORT`; use
 * `deno task serve` (which runs `server.ts`) to honour `PORT` and `HOST`.
 *
 * @example
 * ```sh
 * deno serve --port 8000 --allow-read=weights,node_modules --allow-env edge/main.ts
 * ```
 * @module
 */
import { setupLogging } from "../shared/log.ts";
import { ConfigError, type EdgeConfig, readConfig } from "./config.ts";
import { startService } from "./service.ts";

/**
 * Reads the settings from the environment. A malformed setting prints one
 * line that names it and stops the process with exit code 1, without a
 * stack trace. Where the runtime forbids exiting, the error is thrown.
 */
function readConfigOrExit(): EdgeConfig {
  try {
    return readConfig((name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`error: ${error.message}`);
    try {
      Deno.exit(1);
    } catch {
      throw error;
    }
  }
}

/** The settings read from the environment, for `server.ts`. */
export const config = readConfigOrExit();

await setupLogging({ level: config.logLevel });

/** The running service, for `server.ts`. */
export const service = startService(config);

export default { fetch: service.app.fetch } satisfies Deno.ServeDefaultExport;
