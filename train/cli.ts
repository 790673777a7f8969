/**
 * Shared behaviour of the command-line tools: exit codes, error
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
    // Printed as plain text, not through the logger, so that multi-line
    // messages (key lists, file lists) keep their line breaks.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`error: ${message}`);
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
 * save its state after the current step. A second Ctrl-C exits at once. The
 * first one exits at once too while `canCheckpoint()` is false, because
 * before the first step there is nothing to save.
 */
export function interruptSignal(canCheckpoint: () => boolean = () => true): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted || !canCheckpoint()) {
      logger.warn("Stopped.");
      Deno.exit(EXIT_INTERRUPTED);
    }
    logger.warn(
      "Stopping after the current step and saving a checkpoint; press Ctrl-C again to quit now.",
    );
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  return controller.signal;
}
