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
  /**
   * Decodes `bytes`. With `width` and `height`, jpeg-decoder 0.1.22 scales
   * the IDCT by 1/2, 1/4 or 1/8, choosing the smallest output that is at
   * least that size.
   */
  decode(bytes: Uint8Array, width?: number, height?: number): WasmJpegFrame;
}

declare const loader: {
  /** Compiles the module once, then returns a fresh instance on each call. */
  init(): Promise<WasmJpegDecoder>;
};
export default loader;
