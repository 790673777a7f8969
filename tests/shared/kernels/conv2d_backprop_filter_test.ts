import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { conv2dBackpropFilterKernel } from "../../../shared/kernels/conv2d_backprop_filter.ts";
import { CONV_CASES, TINY_CHUNK } from "./conv_cases.ts";
import {
  assertClose,
  type ConvCase,
  convFilterGradient,
  convInfo,
  randomArray,
  runKernelFunction,
} from "./reference.ts";

function operands(c: ConvCase, index: number) {
  const info = convInfo(c);
  const dyShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  const x = randomArray(c.xShape.reduce((a, b) => a * b), index);
  const dy = randomArray(dyShape.reduce((a, b) => a * b), 100 + index, 0);
  return { x, dy, dyShape };
}

function attrsOf(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.stride, pad: c.pad, dataFormat: "NHWC", filterShape: c.filterShape };
}

async function registeredGradient(c: ConvCase, index: number): Promise<Float32Array> {
  const { x, dy, dyShape } = operands(c, index);
  const result = tf.tidy(() =>
    tf.engine().runKernel("Conv2DBackpropFilter", {
      x: tf.tensor4d(x, c.xShape),
      dy: tf.tensor(dy, dyShape),
    }, attrsOf(c)) as tf.Tensor
  );
  const values = new Float32Array(await result.data());
  result.dispose();
  return values;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`Conv2DBackpropFilter on ${backend} equals the definition`, async (t) => {
    await useBackend(backend);
    for (const [index, c] of CONV_CASES.entries()) {
      await t.step(c.label, async () => {
        const { x, dy } = operands(c, index);
        assertClose(await registeredGradient(c, index), convFilterGradient(x, dy, c));
      });
    }
  });

  Deno.test(`Conv2DBackpropFilter on ${backend} in chunks equals the definition`, async (t) => {
    await useBackend(backend);
    const kernel = conv2dBackpropFilterKernel(backend, { maxColumnElements: TINY_CHUNK });
    for (const [index, c] of CONV_CASES.entries()) {
      await t.step(c.label, () => {
        const { x, dy, dyShape } = operands(c, index);
        const actual = tf.tidy(() =>
          runKernelFunction(kernel, {
            x: tf.tensor4d(x, c.xShape),
            dy: tf.tensor(dy, dyShape),
          }, attrsOf(c))
        );
        assertClose(actual, convFilterGradient(x, dy, c));
      });
    }
  });
}

Deno.test("Conv2DBackpropFilter on wasm equals cpu", async (t) => {
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
