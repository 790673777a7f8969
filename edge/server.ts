/**
 * Runs the edge service on `HOST`:`PORT` (default 0.0.0.0:8000) with
 * `Deno.serve`, for `deno task serve`. SIGINT and SIGTERM stop the server
 * after the requests in flight are served.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { readConfig } from "./config.ts";
import { service } from "./main.ts";

const logger = getLogger(["waste-vision", "edge"]);
const config = readConfig((name) => Deno.env.get(name));

const server = Deno.serve({
  hostname: config.hostname,
  port: config.port,
  onListen: ({ hostname, port }) => {
    logger.info("Listening on {url}, model folder {modelDir}", {
      url: `http://${hostname}:${port}/`,
      modelDir: config.modelDir,
    });
  },
}, service.app.fetch);

async function shutdown(signal: string): Promise<void> {
  logger.info("Received {signal}, stopping", { signal });
  await server.shutdown();
  service.close();
  logger.info("Stopped");
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void shutdown(signal));
}
