/**
 * Types for the per-codec WebAssembly loaders that imagescript 1.3.1 ships
 * under `wasm/node/` without declarations.
 * @module
 */

/** A decoded JPEG frame: `format` 0 is gray, 1 is RGB, 2 is CMYK ink amounts. */
export interface WasmJpegFrame {
  width: number;
  height: number;
  format: number;
  buffer: Uint8Array;
}

/** One WebAssembly instance of the JPEG codec. */
export interface WasmJpegDecoder {
  decode(bytes: Uint8Array): WasmJpegFrame;
}

declare const loader: {
  /** Compiles the module once, then returns a fresh instance on each call. */
  init(): Promise<WasmJpegDecoder>;
};
export default loader;
