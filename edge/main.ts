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
import { readConfig } from "./config.ts";
import { startService } from "./service.ts";

/** The settings read from the environment, for `server.ts`. */
export const config = readConfig((name) => Deno.env.get(name));

await setupLogging({ level: config.logLevel });

/** The running service, for `server.ts`. */
export const service = startService(config);

export default { fetch: service.app.fetch } satisfies Deno.ServeDefaultExport;
