/**
 * Graceful shutdown of the server that `server.ts` runs, on SIGINT or SIGTERM.
 *
 * One process can receive the same signal twice: Ctrl-C in a terminal sends
 * SIGINT to the whole process group, so to both `deno task` and the server,
 * and `deno task` forwards it to the server as well. Only the first signal
 * stops the server; later ones are logged at debug level and ignored.
 *
 * NOTE: on Deno 2.9.6, `server.shutdown()` makes the body read of an upload
 * still in progress fail with `BadResource`, so that request gets a 500
 * `internal_error` rather than being served. Requests whose body has arrived
 * are served.
 *
 * @example
 * ```ts
 * import { createShutdown } from "./shutdown.ts";
 * const server = Deno.serve(() => new Response("ok"));
 * const shutdown = createShutdown(server, { close() {} });
 * Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
 * ```
 * @module
 */
import { getLogger } from "@logtape/logtape";

const logger = getLogger(["waste-vision", "edge"]);

/** The part of `Deno.HttpServer` that shutdown uses. */
export interface ShutdownServer {
  shutdown(): Promise<void>;
}

/** The part of the edge service that shutdown uses. */
export interface ShutdownService {
  close(): void;
}

/**
 * Creates the signal handler. Its first call stops accepting connections,
 * waits for the requests in flight, then closes `service`. Every later call
 * returns the same promise.
 */
export function createShutdown(
  server: ShutdownServer,
  service: ShutdownService,
): (signal: string) => Promise<void> {
  let stopping: Promise<void> | undefined;
  return function shutdown(signal) {
    if (stopping) {
      logger.debug("Received {signal} again while stopping, ignoring it", { signal });
      return stopping;
    }
    logger.info("Received {signal}, stopping", { signal });
    stopping = (async () => {
      await server.shutdown();
      service.close();
      logger.info("Stopped");
    })();
    return stopping;
  };
}
