import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { conv2dBackpropInputKernel } from "../../../shared/kernels/conv2d_backprop_input.ts";
import { CONV_CASES, TINY_CHUNK } from "./conv_cases.ts";
import {
  assertClose,
  type ConvCase,
  convInfo,
  convInputGradient,
  randomArray,
  runKernelFunction,
} from "./reference.ts";

function operands(c: ConvCase, index: number) {
  const info = convInfo(c);
  const dyShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  const w = randomArray(c.filterShape.reduce((a, b) => a * b), index, 0);
  const dy = randomArray(dyShape.reduce((a, b) => a * b), 100 + index, 0.3);
  return { w, dy, dyShape };
}

function attrsOf(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.stride, pad: c.pad, dataFormat: "NHWC", inputShape: c.xShape };
}

async function registeredGradient(c: ConvCase, index: number): Promise<Float32Array> {
  const { w, dy, dyShape } = operands(c, index);
  const result = tf.tidy(() =>
    tf.engine().runKernel("Conv2DBackpropInput", {
      dy: tf.tensor(dy, dyShape),
      filter: tf.tensor4d(w, c.filterShape),
    }, attrsOf(c)) as tf.Tensor
  );
  const values = new Float32Array(await result.data());
  result.dispose();
  return values;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Conv2DBackpropInput on ${backend} equals the definition`, async (t) => {
    await useBackend(backend);
    for (const [index, c] of CONV_CASES.entries()) {
      await t.step(c.label, async () => {
        const { w, dy } = operands(c, index);
        assertClose(await registeredGradient(c, index), convInputGradient(dy, w, c));
      });
    }
  });
}

Deno.test("Conv2DBackpropInput on wasm via col2im in chunks", async (t) => {
  await useBackend("wasm");
  const kernel = conv2dBackpropInputKernel("wasm", {
    maxColumnElements: TINY_CHUNK,
    stride1ByConvolution: false,
  });
  for (const [index, c] of CONV_CASES.entries()) {
    await t.step(c.label, () => {
      const { w, dy, dyShape } = operands(c, index);
      const actual = tf.tidy(() =>
        runKernelFunction(kernel, {
          dy: tf.tensor(dy, dyShape),
          filter: tf.tensor4d(w, c.filterShape),
        }, attrsOf(c))
      );
      assertClose(actual, convInputGradient(dy, w, c));
    });
  }
});

Deno.test("Conv2DBackpropInput on wasm equals tfjs's cpu kernel", async (t) => {
  for (const [index, c] of CONV_CASES.entries()) {
    await t.step(c.label, async () => {
      await useBackend("cpu");
      const cpu = await registeredGradient(c, index);
      await useBackend("wasm");
      assertClose(await registeredGradient(c, index), cpu);
    });
  }
  await useBackend("cpu");
});
