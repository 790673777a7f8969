/**
 * Benchmarks of decoding and preprocessing a 12-megapixel phone-sized photo.
 * Run with `deno bench --allow-read --allow-env tests/shared/image/decode_bench.ts`.
 */
import jpegJs from "jpeg-js";
import { decodeImage } from "../../../shared/image/decode.ts";
import {
  augmentForTrain,
  downscaleForCache,
  IMAGENET_MEAN,
  IMAGENET_STD,
  preprocessForEval,
} from "../../../shared/preprocess.ts";
import { Rng } from "../../../shared/random.ts";

const WIDTH = 4000;
const HEIGHT = 3000;
const CONFIG = { imgSize: 224, mean: IMAGENET_MEAN, std: IMAGENET_STD };

/** Encodes a 4000x3000 gradient with texture as a quality-90 JPEG. */
function makePhoto(): Uint8Array {
  const rgba = new Uint8Array(WIDTH * HEIGHT * 4);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 4;
      rgba[i] = (x * 255) / WIDTH;
      rgba[i + 1] = (y * 255) / HEIGHT;
      rgba[i + 2] = ((x ^ y) & 63) * 4;
      rgba[i + 3] = 255;
    }
  }
  return new Uint8Array(jpegJs.encode({ data: rgba, width: WIDTH, height: HEIGHT }, 90).data);
}

const jpeg = makePhoto();
const decoded = await decodeImage(jpeg);
const cached = downscaleForCache(decoded, 256);

Deno.bench("decodeImage 12 MP JPEG", { group: "decode" }, async () => {
  await decodeImage(jpeg);
});

Deno.bench("preprocessForEval from 12 MP", { group: "preprocess" }, () => {
  preprocessForEval(decoded, CONFIG);
});

Deno.bench("downscaleForCache 12 MP to 256", { group: "preprocess" }, () => {
  downscaleForCache(decoded, 256);
});

Deno.bench("augmentForTrain from cached 341x256", { group: "augment" }, () => {
  augmentForTrain(cached, new Rng(1), CONFIG);
});

Deno.bench("preprocessForEval from cached 341x256", { group: "augment" }, () => {
  preprocessForEval(cached, CONFIG);
});
