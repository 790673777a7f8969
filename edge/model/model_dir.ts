/**
 * Checks the model folder named by `MODEL_DIR` before the service loads it,
 * so that a missing or unreadable folder gives the operator one log line
 * that names the folder and the fix, instead of a stack trace.
 *
 * @example
 * ```ts
 * import { checkModelDir } from "./model_dir.ts";
 * await checkModelDir("weights/default"); // throws ModelFormatError when it is missing
 * ```
 * @module
 */
import { ModelFormatError } from "../../shared/model/metadata.ts";
import { DEFAULT_CONFIG } from "../config.ts";

function missingMessage(dir: string): string {
  const otherFix = dir === DEFAULT_CONFIG.modelDir
    ? `restore ${dir}`
    : `unset MODEL_DIR to serve ${DEFAULT_CONFIG.modelDir}`;
  return `Model folder ${dir} (MODEL_DIR) not found, so /readyz and the /v1 routes return ` +
    "503 model_unavailable. Train a model with `deno task train --data <image folder> " +
    "--out runs/<name>` and set MODEL_DIR=runs/<name>/model, or " + `${otherFix}.`;
}

function notPermittedMessage(dir: string): string {
  return `The server has no read permission for the model folder ${dir} (MODEL_DIR). ` +
    "`deno task serve` may read weights/ and runs/ only: move the folder there, or run " +
    "edge/server.ts with `deno run` and add the folder to --allow-read.";
}

/**
 * Checks that `dir` exists, is a folder and may be read. Throws
 * `ModelFormatError` with the fix when it is not. The loader checks the
 * folder's content later.
 */
export async function checkModelDir(dir: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new ModelFormatError(missingMessage(dir));
    if (error instanceof Deno.errors.NotCapable) {
      throw new ModelFormatError(notPermittedMessage(dir));
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new ModelFormatError(
        `The operating system denies reading the model folder ${dir} (MODEL_DIR). ` +
          "Give the server's user read access to it.",
      );
    }
    throw error;
  }
  if (!info.isDirectory) {
    throw new ModelFormatError(
      `MODEL_DIR=${dir} is a file, not a model folder. Set MODEL_DIR to the folder that ` +
        "`deno task train` exported (runs/<name>/model).",
    );
  }
}
