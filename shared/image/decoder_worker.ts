/**
 * Web Worker entry point for `DecoderPool`: receives `{ id, bytes, maxPixels, minSide }`,
 * runs `decodeImage`, and posts back either the pixels (their buffer
 * transferred, not copied) or the error's name, message, code and format.
 * @module
 */
/// <reference lib="deno.worker" />
import { decodeImage } from "./decode.ts";
import { ImageDecodeError } from "./types.ts";
import type { SerializedError, WorkerReply, WorkerRequest } from "./decoder_protocol.ts";

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const { id, bytes, maxPixels, minSide } = event.data;
  try {
    const image = await decodeImage(bytes, { maxPixels, minSide });
    const reply: WorkerReply = { id, ok: true, image };
    self.postMessage(reply, [image.data.buffer as ArrayBuffer]);
  } catch (error) {
    const reply: WorkerReply = { id, ok: false, error: serializeError(error) };
    self.postMessage(reply);
  }
};

function serializeError(error: unknown): SerializedError {
  if (error instanceof ImageDecodeError) {
    return { name: error.name, message: error.message, code: error.code, format: error.format };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}
