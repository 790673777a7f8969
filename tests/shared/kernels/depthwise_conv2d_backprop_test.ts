import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import {
  assertClose,
  type ConvCase,
  convInfo,
  depthwiseFilterGradient,
  depthwiseInputGradient,
  randomArray,
} from "./reference.ts";

const CASES: ConvCase[] = [
  {
    label: "3x3 stride 1 same",
    xShape: [2, 6, 5, 4],
    filterShape: [3, 3, 4, 1],
    stride: 1,
    pad: "same",
  },
  {
    label: "3x3 stride 2 valid",
    xShape: [2, 9, 9, 3],
    filterShape: [3, 3, 3, 1],
    stride: 2,
    pad: "valid",
  },
  {
    label: "3x3 stride 2 same",
    xShape: [1, 8, 7, 2],
    filterShape: [3, 3, 2, 1],
    stride: 2,
    pad: "same",
  },
  {
    label: "multiplier 2, pad 1",
    xShape: [2, 5, 6, 3],
    filterShape: [3, 3, 3, 2],
    stride: 1,
    pad: 1,
  },
  {
    label: "multiplier 3 stride 2",
    xShape: [1, 7, 7, 2],
    filterShape: [3, 3, 2, 3],
    stride: 2,
    pad: "same",
  },
  {
    label: "dilation 2",
    xShape: [2, 9, 8, 3],
    filterShape: [3, 3, 3, 1],
    stride: 1,
    pad: "same",
    dilation: 2,
  },
  {
    label: "5x5 stride 1 valid",
    xShape: [1, 8, 8, 5],
    filterShape: [5, 5, 5, 1],
    stride: 1,
    pad: "valid",
  },
];

function operands(c: ConvCase, index: number) {
  const info = convInfo(c, true);
  const dyShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  return {
    x: randomArray(c.xShape.reduce((a, b) => a * b), index),
    w: randomArray(c.filterShape.reduce((a, b) => a * b), 50 + index, 0),
    dy: randomArray(dyShape.reduce((a, b) => a * b), 100 + index, 0),
    dyShape,
  };
}

async function gradients(c: ConvCase, index: number) {
  const { x, w, dy, dyShape } = operands(c, index);
  const common = { strides: c.stride, pad: c.pad, dilations: c.dilation ?? 1 };
  const [dx, dw] = tf.tidy(() => {
    const dyTensor = tf.tensor(dy, dyShape);
    return [
      tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
        dy: dyTensor,
        filter: tf.tensor4d(w, c.filterShape),
      }, { ...common, inputShape: c.xShape }) as tf.Tensor,
      tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", {
        x: tf.tensor4d(x, c.xShape),
        dy: dyTensor,
      }, { ...common, filterShape: c.filterShape }) as tf.Tensor,
    ];
  });
  const result = { dx: new Float32Array(await dx.data()), dw: new Float32Array(await dw.data()) };
  tf.dispose([dx, dw]);
  return result;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`depthwise gradients on ${backend} equal the definition`, async (t) => {
    await useBackend(backend);
    for (const [index, c] of CASES.entries()) {
      await t.step(c.label, async () => {
        const { x, w, dy } = operands(c, index);
        const actual = await gradients(c, index);
        assertClose(actual.dx, depthwiseInputGradient(dy, w, c));
        assertClose(actual.dw, depthwiseFilterGradient(x, dy, c));
      });
    }
  });
}

Deno.test("depthwise gradients through tf.grads on wasm equal cpu", async () => {
  const c = CASES[3];
  const { x, w } = operands(c, 3);
  const run = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    const [dx, dw] = tf.grads((input: tf.Tensor, filter: tf.Tensor) =>
      tf.sum(tf.square(tf.depthwiseConv2d(input as tf.Tensor4D, filter as tf.Tensor4D, 1, 1)))
    )([tf.tensor4d(x, c.xShape), tf.tensor4d(w, c.filterShape)]);
    const result = { dx: await dx.data(), dw: await dw.data() };
    tf.dispose([dx, dw]);
    return result;
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  assertClose(wasm.dx, cpu.dx);
  assertClose(wasm.dw, cpu.dw, 1e-3);
  await useBackend("cpu");
});
