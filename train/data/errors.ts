/**
 * The error raised for an unusable dataset folder or split list.
 * @module
 */

/**
 * An error in the training data: a missing or empty folder, a class folder
 * without images, or a split list that names files that are not there. The
 * message names the value and the fix.
 *
 * @example
 * ```ts
 * import { DatasetError } from "./errors.ts";
 * try {
 *   throw new DatasetError('Class folder "trash" contains no image files.');
 * } catch (error) {
 *   if (error instanceof DatasetError) console.error(error.message);
 * }
 * ```
 */
export class DatasetError extends Error {
  /** Creates an error whose message names the value and the fix. */
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}
