/**
 * im2col and col2im for NHWC convolutions: the lowering that turns a
 * convolution's gradients into matrix products.
 *
 * For a convolution with filter [kh, kw, ci, co], im2col writes one row per
 * output position (b, oh, ow) and one column per filter tap (kh, kw, ci):
 *
 *   col[(b, oh, ow), (kh, kw, ci)] = x[b, oh * sh + kh - padTop, ow * sw + kw - padLeft, ci]
 *
 * (0 where that position falls in the padding). Then the filter gradient is
 * col^T x dy, and the input gradient is col2im(dy x W^T), with W the filter
 * seen as a [kh * kw * ci, co] matrix. col2im adds every entry of a column
 * matrix back onto the input position it came from.
 *
 * Only dilation 1 is handled, which is what every model here uses.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/**
 * Largest temporary im2col-sized matrix a gradient kernel allocates, in
 * float32 values (16 MiB). Larger ones are processed in chunks of rows.
 */
export const MAX_COLUMN_ELEMENTS = 1 << 22;

/** Options of the gradient kernels that use this lowering. */
export interface LoweringOptions {
  /**
   * Largest temporary im2col-sized matrix, in float32 values. Default:
   * {@linkcode MAX_COLUMN_ELEMENTS}. Tests set it small to exercise chunking.
   */
  maxColumnElements?: number;
  /**
   * Whether `Conv2DBackpropInput` computes stride-1 gradients as a forward
   * convolution with the flipped filter instead of a matrix product and
   * col2im. Default: `true`. Tests turn it off to cover the other path.
   */
  stride1ByConvolution?: boolean;
}

/** The part of tfjs's `Conv2DInfo` that the lowering reads. */
export type ConvGeometry = Pick<
  tf.backend_util.Conv2DInfo,
  | "batchSize"
  | "inHeight"
  | "inWidth"
  | "inChannels"
  | "outHeight"
  | "outWidth"
  | "outChannels"
  | "filterHeight"
  | "filterWidth"
  | "strideHeight"
  | "strideWidth"
  | "padInfo"
>;

/** Number of columns of the im2col matrix: kh * kw * ci. */
export function patchSize(info: ConvGeometry): number {
  return info.filterHeight * info.filterWidth * info.inChannels;
}

/**
 * Reports whether the convolution is a 1x1, stride-1, unpadded one. Its
 * im2col matrix is the input itself, so no copy is needed.
 */
export function isPointwise(info: ConvGeometry): boolean {
  const { top, bottom, left, right } = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 &&
    info.strideWidth === 1 && top === 0 && bottom === 0 && left === 0 && right === 0;
}

/**
 * Writes rows [first, end) of the im2col matrix of `x` into `col`, which
 * must hold (end - first) rows of {@linkcode patchSize} values. Rows count
 * output positions across the batch: row (b * outHeight + oh) * outWidth + ow.
 * Every value in that range is written, padding included.
 */
export function im2col(
  x: Float32Array,
  info: ConvGeometry,
  rows: [number, number],
  col: Float32Array,
): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowSize = patchSize(info);
  const tapRowSize = filterWidth * inChannels;
  const perImage = outHeight * outWidth;
  let offset = 0;
  for (let row = rows[0]; row < rows[1]; row++) {
    const b = Math.floor(row / perImage);
    const position = row - b * perImage;
    const oh = Math.floor(position / outWidth);
    const ow = position - oh * outWidth;
    for (let kh = 0; kh < filterHeight; kh++) {
      const ih = oh * strideHeight + kh - top;
      const tapRow = offset + kh * tapRowSize;
      if (ih < 0 || ih >= inHeight) {
        col.fill(0, tapRow, tapRow + tapRowSize);
        continue;
      }
      const xRow = (b * inHeight + ih) * inWidth;
      for (let kw = 0; kw < filterWidth; kw++) {
        const iw = ow * strideWidth + kw - left;
        const target = tapRow + kw * inChannels;
        if (iw < 0 || iw >= inWidth) {
          col.fill(0, target, target + inChannels);
          continue;
        }
        const source = (xRow + iw) * inChannels;
        for (let c = 0; c < inChannels; c++) col[target + c] = x[source + c];
      }
    }
    offset += rowSize;
  }
}

/**
 * Adds rows [first, end) of an im2col-shaped matrix, held in `col`, onto the
 * input positions they were taken from, in `dx`. Padding entries are
 * dropped. `dx` must be zeroed by the caller before the first call.
 */
export function col2imAdd(
  col: Float32Array,
  info: ConvGeometry,
  rows: [number, number],
  dx: Float32Array,
): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowSize = patchSize(info);
  const perImage = outHeight * outWidth;
  let offset = 0;
  for (let row = rows[0]; row < rows[1]; row++) {
    const b = Math.floor(row / perImage);
    const position = row - b * perImage;
    const oh = Math.floor(position / outWidth);
    const ow = position - oh * outWidth;
    for (let kh = 0; kh < filterHeight; kh++) {
      const ih = oh * strideHeight + kh - top;
      if (ih < 0 || ih >= inHeight) continue;
      const xRow = (b * inHeight + ih) * inWidth;
      for (let kw = 0; kw < filterWidth; kw++) {
        const iw = ow * strideWidth + kw - left;
        if (iw < 0 || iw >= inWidth) continue;
        const source = offset + (kh * filterWidth + kw) * inChannels;
        const target = (xRow + iw) * inChannels;
        for (let c = 0; c < inChannels; c++) dx[target + c] += col[source + c];
      }
    }
    offset += rowSize;
  }
}
