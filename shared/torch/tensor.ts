/**
 * Tensor types shared by the checkpoint readers, and their conversion to
 * float32.
 *
 * @module
 */
import { TorchCheckpointError } from "./errors.ts";

/** Element types that the readers accept, named as PyTorch names them. */
export type TorchDType = "float32" | "float16" | "int64";

/** Size in bytes of one element of each {@linkcode TorchDType}. */
export const DTYPE_BYTES: Readonly<Record<TorchDType, number>> = {
  float32: 4,
  float16: 2,
  int64: 8,
};

/** A contiguous, row-major tensor as stored in a checkpoint, in little-endian bytes. */
export interface RawTensor {
  /** Element type of `bytes`. */
  dtype: TorchDType;
  /** Dimensions, outermost first (PyTorch order, for example OIHW for a convolution). */
  shape: number[];
  /** Row-major element bytes, `product(shape) * DTYPE_BYTES[dtype]` long. */
  bytes: Uint8Array;
}

/** One state_dict entry converted to float32, with the dtype it was stored in. */
export interface StateDictTensor {
  /** Dimensions in PyTorch order. */
  shape: number[];
  /** Element type in the checkpoint, before the conversion to float32. */
  dtype: TorchDType;
  /** Row-major values. */
  data: Float32Array;
}

/** A state_dict: parameter and buffer names mapped to tensors, in checkpoint order. */
export type StateDict = Map<string, StateDictTensor>;

/** Returns the number of elements of a tensor with this shape (1 for a scalar). */
export function countElements(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) count *= size;
  return count;
}

/**
 * Converts a raw tensor to float32 values. float16 is widened exactly, and
 * int64 is rounded to the nearest float32, so values above 2^24 lose precision.
 */
export function toFloat32(tensor: RawTensor, name: string): Float32Array {
  const count = countElements(tensor.shape);
  const expectedBytes = count * DTYPE_BYTES[tensor.dtype];
  if (tensor.bytes.byteLength !== expectedBytes) {
    throw new TorchCheckpointError(
      `Tensor "${name}" has ${tensor.bytes.byteLength} bytes, but shape ` +
        `[${tensor.shape}] of ${tensor.dtype} needs ${expectedBytes}. The checkpoint is corrupt.`,
    );
  }
  const view = new DataView(tensor.bytes.buffer, tensor.bytes.byteOffset, tensor.bytes.byteLength);
  const out = new Float32Array(count);
  if (tensor.dtype === "float32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (tensor.dtype === "float16") {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  } else {
    for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
  }
  return out;
}

/** Decodes one IEEE 754 binary16 value, subnormals, infinities and NaN included. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
