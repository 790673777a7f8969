/**
 * Child process of wasm_threads_test.ts: starts the threaded wasm build with
 * two threads, registers the training kernels, computes the gradients of one
 * convolution and prints them with the thread count as one JSON line.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { startThreadedWasm } from "../../../shared/kernels/wasm_threads.ts";
import { registerTrainingKernels } from "../../../shared/kernels/register.ts";
import { randomArray } from "./reference.ts";

setWasmPaths(new URL("./", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).href);
tf.env().set("IS_NODE", false);
registerTrainingKernels();
const started = await startThreadedWasm({ threads: 2 });
const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
  tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")))
)([
  tf.tensor4d(randomArray(2 * 8 * 8 * 16, 1, 0), [2, 8, 8, 16]),
  tf.tensor4d(randomArray(3 * 3 * 16 * 8, 2, 0), [3, 3, 16, 8]),
]);
console.log(JSON.stringify({
  backend: tf.getBackend(),
  threads: started.threads,
  message: started.message,
  dx: Array.from(await dx.data()),
  dw: Array.from(await dw.data()),
}));
