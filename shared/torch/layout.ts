/**
 * Conversions from PyTorch weight layouts to TensorFlow.js layouts, on plain
 * row-major Float32Arrays.
 *
 * | PyTorch                          | TensorFlow.js                      |
 * | -------------------------------- | ---------------------------------- |
 * | Conv2d weight [O, I, kH, kW]     | Conv2D kernel [kH, kW, I, O]       |
 * | depthwise Conv2d [C*M, 1, kH, kW] | DepthwiseConv2D kernel [kH, kW, C, M] |
 * | Linear weight [out, in]          | Dense kernel [in, out]             |
 * | every other tensor               | unchanged                          |
 *
 * @module
 */

/** Rearrangement that turns a PyTorch tensor into its TensorFlow.js weight. */
export type LayoutConversion = "conv" | "depthwise" | "linear" | "identity";

/**
 * Returns the PyTorch shape that corresponds to a TensorFlow.js weight shape
 * under `conversion`, so a checkpoint tensor can be checked before it is
 * converted.
 */
export function torchShapeFor(
  conversion: LayoutConversion,
  tfjsShape: readonly number[],
): number[] {
  switch (conversion) {
    case "conv": {
      const [kh, kw, inChannels, outChannels] = tfjsShape;
      return [outChannels, inChannels, kh, kw];
    }
    case "depthwise": {
      const [kh, kw, channels, multiplier] = tfjsShape;
      return [channels * multiplier, 1, kh, kw];
    }
    case "linear": {
      const [inUnits, outUnits] = tfjsShape;
      return [outUnits, inUnits];
    }
    case "identity":
      return [...tfjsShape];
  }
}

/**
 * Rearranges PyTorch values into the TensorFlow.js layout of a weight of
 * shape `tfjsShape`. The caller checks beforehand that the PyTorch tensor has
 * the shape {@linkcode torchShapeFor} returns.
 */
export function convertLayout(
  conversion: LayoutConversion,
  torchData: Float32Array,
  tfjsShape: readonly number[],
): Float32Array {
  switch (conversion) {
    case "conv": {
      const [kh, kw, inChannels, outChannels] = tfjsShape;
      return oihwToHwio(torchData, { kh, kw, inChannels, outChannels });
    }
    case "depthwise": {
      const [kh, kw, channels, multiplier] = tfjsShape;
      // [C*M, 1, kH, kW] is OIHW with O = C*M and I = 1; as HWIO it is
      // [kH, kW, 1, C*M], which has the same element order as [kH, kW, C, M].
      return oihwToHwio(torchData, { kh, kw, inChannels: 1, outChannels: channels * multiplier });
    }
    case "linear": {
      const [inUnits, outUnits] = tfjsShape;
      return transpose(torchData, outUnits, inUnits);
    }
    case "identity":
      return torchData;
  }
}

interface ConvShape {
  kh: number;
  kw: number;
  inChannels: number;
  outChannels: number;
}

function oihwToHwio(source: Float32Array, shape: ConvShape): Float32Array {
  const { kh, kw, inChannels, outChannels } = shape;
  const out = new Float32Array(source.length);
  let from = 0;
  for (let o = 0; o < outChannels; o++) {
    for (let i = 0; i < inChannels; i++) {
      for (let h = 0; h < kh; h++) {
        for (let w = 0; w < kw; w++) {
          out[((h * kw + w) * inChannels + i) * outChannels + o] = source[from++];
        }
      }
    }
  }
  return out;
}

function transpose(source: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(source.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) out[c * rows + r] = source[r * columns + c];
  }
  return out;
}
