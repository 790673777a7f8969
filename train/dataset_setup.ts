/**
 * Prepares a run's data: scans the ImageFolder, splits it (stratified from
 * the seed, or from list files), decodes every image once in parallel
 * workers, and keeps it in memory at the eval resize size.
 *
 * The cache stores each image with its shorter side at round(imgSize /
 * resizeRatio), the size eval preprocessing resizes to, so eval sees exactly
 * the pixels that `predict` and the edge service see. Random resized crops
 * are cut from that cached image rather than from the full-size photo.
 * @module
 */
import { getLogger } from "../shared/log.ts";
import { DecoderPool } from "../shared/image/decoder_pool.ts";
import { downscaleForCache } from "../shared/preprocess.ts";
import { classCounts, readSplitDir, type Split, stratifiedSplit } from "./data/split.ts";
import { type Dataset, type Sample, scanImageFolder } from "./data/image_folder.ts";
import { decodeAll, type DecodedSample, type SkippedFile } from "./data/loader.ts";

const logger = getLogger(["waste-vision", "train", "data"]);

/** The decoded splits of a run. */
export interface PreparedData {
  classNames: string[];
  train: DecodedSample[];
  val: DecodedSample[];
  test: DecodedSample[];
  /** Images per class in each split, after unreadable files are dropped. */
  counts: Record<"train" | "val" | "test", Record<string, number>>;
  skipped: SkippedFile[];
  splitSource: string;
}

/** Options for {@linkcode prepareData}. */
export interface PrepareDataOptions {
  splitDir?: string;
  valFraction: number;
  seed: number;
  cacheMinSide: number;
  workers: number;
}

async function resolveSplit(dataset: Dataset, options: PrepareDataOptions): Promise<Split> {
  if (options.splitDir) return await readSplitDir(options.splitDir, dataset);
  return stratifiedSplit(dataset.samples, { valFraction: options.valFraction, seed: options.seed });
}

function countsOf(decoded: DecodedSample[], classNames: string[]): Record<string, number> {
  return classCounts(decoded.map((d) => d.sample), classNames);
}

/** Scans, splits and decodes the data of a run. */
export async function prepareData(
  root: string,
  options: PrepareDataOptions,
): Promise<PreparedData> {
  const dataset = await scanImageFolder(root);
  const split = await resolveSplit(dataset, options);
  const pool = new DecoderPool({ size: options.workers });
  const all: Sample[] = [...split.train, ...split.val, ...split.test];
  let lastLogged = 0;
  try {
    const { decoded, skipped } = await decodeAll(all, {
      pool,
      cacheMinSide: options.cacheMinSide,
      downscale: downscaleForCache,
      onProgress: (done, total) => {
        if (done === total || done - lastLogged >= Math.max(200, total / 10)) {
          lastLogged = done;
          logger.info("Decoded {done}/{total} images", { done, total });
        }
      },
    });
    if (skipped.length > 0) {
      const list = skipped.map((s) => `${s.path} (${s.reason})`).join("; ");
      logger.warn("Skipped {count} unreadable files: {list}", { count: skipped.length, list });
    }
    const byPath = new Map(decoded.map((d) => [d.sample.path, d]));
    const pick = (samples: Sample[]) =>
      samples.map((s) => byPath.get(s.path)).filter((d): d is DecodedSample => d !== undefined);
    const train = pick(split.train);
    const val = pick(split.val);
    const test = pick(split.test);
    if (train.length === 0 || val.length === 0) {
      throw new Error(
        `After skipping unreadable files, train has ${train.length} and val ${val.length} images; both need at least one.`,
      );
    }
    return {
      classNames: dataset.classNames,
      train,
      val,
      test,
      counts: {
        train: countsOf(train, dataset.classNames),
        val: countsOf(val, dataset.classNames),
        test: countsOf(test, dataset.classNames),
      },
      skipped,
      splitSource: options.splitDir
        ? `lists in ${options.splitDir}`
        : `stratified, val fraction ${options.valFraction}, seed ${options.seed}`,
    };
  } finally {
    pool.close();
  }
}
