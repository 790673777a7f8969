/**
 * Runs the edge service on `HOST`:`PORT` (default 0.0.0.0:8000) with
 * `Deno.serve`, for `deno task serve`. SIGINT and SIGTERM stop the server
 * after the requests in flight are served (see `shutdown.ts` for the
 * exception of uploads still arriving).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { config, service } from "./main.ts";
import { createShutdown } from "./shutdown.ts";

const logger = getLogger(["waste-vision", "edge"]);

const server = Deno.serve({
  hostname: config.hostname,
  port: config.port,
  onListen: ({ hostname, port }) => {
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    logger.info("Listening on {url}, model folder {modelDir}", {
      url: `http://${host}:${port}/`,
      modelDir: config.modelDir,
    });
  },
}, service.app.fetch);

const shutdown = createShutdown(server, service);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void shutdown(signal));
}
