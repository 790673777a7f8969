/** Convolution geometries shared by the Conv2D gradient tests. @module */
import type { ConvCase } from "./reference.ts";

/** Small shapes that cover each padding mode, strides 1 and 2, 1x1, 3x3 and 7x7 filters. */
export const CONV_CASES: ConvCase[] = [
  {
    label: "3x3 stride 1 same",
    xShape: [2, 7, 6, 3],
    filterShape: [3, 3, 3, 4],
    stride: 1,
    pad: "same",
  },
  {
    label: "3x3 stride 2 valid",
    xShape: [2, 9, 9, 2],
    filterShape: [3, 3, 2, 5],
    stride: 2,
    pad: "valid",
  },
  {
    label: "7x7 stride 2 pad 3",
    xShape: [1, 16, 12, 3],
    filterShape: [7, 7, 3, 4],
    stride: 2,
    pad: 3,
  },
  {
    label: "1x1 stride 2 valid",
    xShape: [3, 8, 8, 4],
    filterShape: [1, 1, 4, 6],
    stride: 2,
    pad: "valid",
  },
  {
    label: "1x1 stride 1 valid",
    xShape: [2, 5, 4, 6],
    filterShape: [1, 1, 6, 3],
    stride: 1,
    pad: "valid",
  },
  {
    label: "3x3 stride 2 same",
    xShape: [2, 8, 7, 2],
    filterShape: [3, 3, 2, 3],
    stride: 2,
    pad: "same",
  },
  {
    label: "3x3 stride 1 pad 1",
    xShape: [2, 6, 6, 5],
    filterShape: [3, 3, 5, 2],
    stride: 1,
    pad: 1,
  },
];

/** Chunk size, in values, small enough to split every case above into several chunks. */
export const TINY_CHUNK = 40;
