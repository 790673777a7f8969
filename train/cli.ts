/**
 * What every command-line tool of the project shares: exit codes, error
 * printing without stack traces for expected errors, and Ctrl-C handling.
 * @module
 */
import { CommanderError } from "commander";
import { getLogger, setupLogging } from "../shared/log.ts";

const logger = getLogger(["waste-vision", "cli"]);

/** Exit code for invalid flags, as most Unix tools use. */
export const EXIT_USAGE = 2;
/** Exit code after an interruption by SIGINT (128 + 2). */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `main` and exits: 0 on success, 2 for invalid flags (commander has
 * already printed why), 1 with the error's message for any other failure.
 */
export async function runCli(main: () => Promise<number>): Promise<never> {
  await setupLogging();
  try {
    Deno.exit(await main());
  } catch (error) {
    if (error instanceof CommanderError) {
      Deno.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    const message = error instanceof Error ? error.message : String(error);
    logger.error("{message}", { message });
    if (error instanceof Error && !isExpectedError(error)) {
      logger.debug("{stack}", { stack: error.stack ?? "" });
    }
    Deno.exit(1);
  }
}

function isExpectedError(error: Error): boolean {
  return ["DatasetError", "ModelFormatError", "ImageDecodeError", "TorchCheckpointError"].includes(
    error.name,
  ) ||
    error instanceof Deno.errors.NotFound;
}

/**
 * Returns a signal that aborts on the first Ctrl-C (or SIGTERM), so a run can
 * save its state; a second Ctrl-C exits at once.
 */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) Deno.exit(EXIT_INTERRUPTED);
    logger.warn(
      "Stopping after the current batch and saving a checkpoint; press Ctrl-C again to quit now.",
    );
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return controller.signal;
}
