/**
 * The error type of the checkpoint readers and of the state_dict mapping.
 *
 * @module
 */

/**
 * Error raised when a checkpoint cannot be read safely, or when its tensors do
 * not fit the model. The message names the file, key or value and the fix.
 */
export class TorchCheckpointError extends Error {
  /** Creates the error with a message that names the value and the fix. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TorchCheckpointError";
  }
}
