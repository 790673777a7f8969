/**
 * Weight quantization for exported models, in the TF.js weights-manifest
 * format, so `tf.loadLayersModel` and `loadModelDir` dequantize the weights
 * to float32 while loading and no runtime change is needed.
 *
 * - `float16`: each value rounded to the nearest IEEE half float (manifest
 *   `quantization: { dtype: "float16" }`), half the size.
 * - `uint8`: each tensor mapped linearly to 0..255 between its min and max
 *   (manifest `quantization: { dtype: "uint8", scale, min }`), a quarter of
 *   the size. A value comes back within `scale / 2` of the original.
 *
 * Only kernels (tensors of rank 2 or more) are quantized. Biases and
 * BatchNorm parameters stay float32: they are a small share of the bytes,
 * and a BatchNorm variance rounded to zero would blow up the outputs.
 *
 * @example
 * ```ts
 * import { quantizeWeights } from "./quantize.ts";
 * const specs = [{ name: "w", shape: [2, 2], dtype: "float32" as const }];
 * const data = new Float32Array([0, 0.5, -1, 2]).buffer;
 * const quantized = quantizeWeights(specs, data, "uint8");
 * console.log(quantized.data.byteLength); // 4
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { WeightQuantization } from "./metadata.ts";

type WeightSpec = tf.io.WeightsManifestEntry;

/** Quantized weights: the manifest entries and the packed bytes. */
export interface QuantizedWeights {
  specs: WeightSpec[];
  data: ArrayBuffer;
}

/** Bytes that one stored value of `spec` takes in the weight files. */
export function storedBytesPerValue(spec: WeightSpec): number {
  const quantized = spec.quantization?.dtype;
  if (quantized === "uint8") return 1;
  if (quantized === "uint16" || quantized === "float16") return 2;
  if (spec.dtype === "bool") return 1;
  return 4;
}

/** Number of bytes the weight files of `specs` take. */
export function storedByteLength(specs: WeightSpec[]): number {
  return specs.reduce(
    (sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * storedBytesPerValue(spec),
    0,
  );
}

/**
 * Quantizes the float32 kernels in `data` (laid out as `specs` describe,
 * unquantized) to `mode`. `float32` returns the input unchanged. Throws a
 * `RangeError` when `data` is shorter than `specs` describe or a weight is
 * already quantized.
 */
export function quantizeWeights(
  specs: WeightSpec[],
  data: ArrayBuffer,
  mode: WeightQuantization,
): QuantizedWeights {
  if (mode === "float32") return { specs, data };
  const expected = storedByteLength(specs);
  if (data.byteLength !== expected) {
    throw new RangeError(
      `quantizeWeights: the weight data has ${data.byteLength} bytes but the specs describe ${expected}.`,
    );
  }
  const parts: Uint8Array[] = [];
  const outSpecs: WeightSpec[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) {
      throw new RangeError(`quantizeWeights: weight "${spec.name}" is already quantized.`);
    }
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = size * storedBytesPerValue(spec);
    const slice = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== "float32" || spec.shape.length < 2) {
      parts.push(new Uint8Array(slice));
      outSpecs.push(spec);
      continue;
    }
    const values = new Float32Array(slice);
    const quantized = mode === "float16" ? toFloat16(values) : toUint8(values);
    parts.push(quantized.bytes);
    outSpecs.push({ ...spec, quantization: quantized.quantization });
  }
  return { specs: outSpecs, data: concat(parts) };
}

type Quantization = NonNullable<WeightSpec["quantization"]>;

function toFloat16(values: Float32Array): { bytes: Uint8Array; quantization: Quantization } {
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) halves[i] = float32ToFloat16Bits(values[i]);
  return { bytes: new Uint8Array(halves.buffer), quantization: { dtype: "float16" } };
}

function toUint8(values: Float32Array): { bytes: Uint8Array; quantization: Quantization } {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  // A constant tensor keeps scale 1, so every value decodes to `min` exactly.
  const scale = max > min ? (max - min) / 255 : 1;
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = Math.round((values[i] - min) / scale);
  return { bytes, quantization: { dtype: "uint8", scale, min } };
}

const float32View = new Float32Array(1);
const uint32View = new Uint32Array(float32View.buffer);

/**
 * Returns the IEEE 754 half-float bits nearest to `value`, ties to even.
 * Values beyond the half-float range become infinity; values below its
 * smallest subnormal become zero.
 */
export function float32ToFloat16Bits(value: number): number {
  float32View[0] = value;
  const bits = uint32View[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    // Subnormal half: shift the mantissa with its implicit leading 1.
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShift(full, shift);
  }
  return sign | ((halfExponent << 10) + roundShift(mantissa, 13));
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (remainder > half || (remainder === half && (kept & 1) === 1)) return kept + 1;
  return kept;
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out.buffer;
}
