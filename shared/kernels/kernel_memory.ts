/**
 * Tensor memory access inside a kernel, the same for the `cpu` and `wasm`
 * backends of tfjs 4.22, so that one kernel body serves both.
 *
 * A kernel can allocate temporary tensors, read and write their values as
 * `Float32Array`s, run another kernel of the same backend (for example
 * `BatchMatMul`, which wasm runs with XNNPACK's SIMD GEMM), and dispose the
 * temporaries. Temporaries live outside the engine's bookkeeping, so every
 * one must be disposed by the kernel that made it.
 *
 * On wasm, a view returned by {@linkcode KernelMemory.values} is a window on
 * the WebAssembly heap. An allocation can grow the heap, which detaches
 * older views (they read as length 0), so fetch views again after every
 * allocation or kernel run.
 *
 * @example
 * ```ts
 * const memory = kernelMemory(backend, "wasm");
 * const t = memory.allocate([2, 3]);
 * memory.values(t).fill(1);
 * memory.dispose(t);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The backends whose memory {@linkcode kernelMemory} can reach. */
export type MemoryBackendName = "cpu" | "wasm";

/** Access to one backend's tensor memory from inside a kernel. */
export interface KernelMemory {
  readonly backendName: MemoryBackendName;
  /** The backend object, as passed to kernels of `backendName`. */
  readonly backend: unknown;
  /** Float32 view of a tensor's values. On wasm, valid until the next allocation. */
  values(info: tf.TensorInfo): Float32Array;
  /** Allocates a float32 tensor. On wasm its values are uninitialized; on cpu they are 0. */
  allocate(shape: number[]): tf.TensorInfo;
  /** Runs kernel `kernelName` of the same backend. */
  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap): tf.TensorInfo;
  /** Releases a tensor made by {@linkcode allocate} or {@linkcode run}. */
  dispose(info: tf.TensorInfo): void;
}

interface CpuBackend {
  data: { get(dataId: tf.DataId): { values: tf.backend_util.TypedArray } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

interface WasmBackend {
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
}

function runKernel(
  backendName: MemoryBackendName,
  backend: unknown,
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, backendName);
  if (!kernel) {
    throw new Error(`Kernel ${kernelName} is not registered for backend ${backendName}.`);
  }
  const result = kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs });
  return Array.isArray(result) ? result[0] : result;
}

function asFloat32(values: tf.backend_util.TypedArray, info: tf.TensorInfo): Float32Array {
  if (!(values instanceof Float32Array)) {
    throw new Error(
      `Expected a float32 tensor, got dtype ${info.dtype} with shape [${info.shape}].`,
    );
  }
  return values;
}

function cpuMemory(backend: CpuBackend): KernelMemory {
  return {
    backendName: "cpu",
    backend,
    values: (info) => asFloat32(backend.data.get(info.dataId).values, info),
    allocate: (shape) => backend.makeTensorInfo(shape, "float32", new Float32Array(sizeOf(shape))),
    run: (kernelName, inputs, attrs) => runKernel("cpu", backend, kernelName, inputs, attrs),
    dispose: (info) => void backend.disposeData(info.dataId),
  };
}

function wasmMemory(backend: WasmBackend): KernelMemory {
  return {
    backendName: "wasm",
    backend,
    values: (info) => asFloat32(backend.typedArrayFromHeap(info), info),
    allocate: (shape) => backend.makeOutput(shape, "float32"),
    run: (kernelName, inputs, attrs) => runKernel("wasm", backend, kernelName, inputs, attrs),
    dispose: (info) => void backend.disposeData(info.dataId),
  };
}

/** Wraps the backend object a kernel receives. */
export function kernelMemory(backend: unknown, backendName: MemoryBackendName): KernelMemory {
  return backendName === "cpu"
    ? cpuMemory(backend as CpuBackend)
    : wasmMemory(backend as WasmBackend);
}

/** Number of elements of a tensor with `shape`. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/**
 * Returns a view of `info` with another shape of the same size, sharing its
 * memory. Pass it to kernels, but never dispose it: dispose `info` instead.
 */
export function reshaped(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  if (sizeOf(shape) !== sizeOf(info.shape)) {
    throw new Error(`Cannot view a tensor of shape [${info.shape}] as shape [${shape}].`);
  }
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * Multiplies `a` [m, k] by `b` [k, n] with the backend's `BatchMatMul`
 * kernel and returns a new [m, n] tensor. On wasm, an untransposed product
 * with batch 1 runs on XNNPACK's GEMM, which caches the packed `b` for as
 * long as `b` lives, so reusing one `b` across calls packs it once.
 */
export function matMul(
  memory: KernelMemory,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  dims: { m: number; k: number; n: number },
): tf.TensorInfo {
  const { m, k, n } = dims;
  const product = memory.run("BatchMatMul", {
    a: reshaped(a, [1, m, k]),
    b: reshaped(b, [1, k, n]),
  }, { transposeA: false, transposeB: false });
  return { ...product, shape: [m, n] };
}
