/**
 * Splits a dataset into train, val and optional test sets: either a seeded
 * stratified split, or the split given by list files such as TrashNet's own
 * `*_train.txt`, `*_val.txt` and `*_test.txt`.
 *
 * @example
 * ```ts
 * import { scanImageFolder } from "./image_folder.ts";
 * import { classCounts, stratifiedSplit } from "./split.ts";
 * const dataset = await scanImageFolder("/data/trashnet");
 * const split = stratifiedSplit(dataset.samples, { valFraction: 0.2, seed: 42 });
 * console.log(classCounts(split.val, dataset.classNames)); // { cardboard: 81, glass: 100, ... }
 * ```
 * @module
 */
import { basename, join } from "node:path";
import { Rng } from "../../shared/random.ts";
import { DatasetError } from "./errors.ts";
import { compareCodePoints, type Dataset, listNames, type Sample } from "./image_folder.ts";

/** The samples of each part of a split. `test` is empty when there is no test set. */
export interface Split {
  /** Samples to train on. */
  train: Sample[];
  /** Samples to select the best epoch on. */
  val: Sample[];
  /** Held-out samples, empty unless a test fraction or a `_test.txt` list was given. */
  test: Sample[];
}

/** Options for {@linkcode stratifiedSplit}. */
export interface StratifiedSplitOptions {
  /** Fraction of each class that goes to val, in [0, 1). */
  valFraction: number;
  /** Seed of the shuffle; the same seed and samples give the same split. */
  seed: number;
  /** Fraction of each class that goes to test, in [0, 1). Default: 0 (no test set). */
  testFraction?: number;
}

/**
 * Splits `samples` class by class, so each part keeps the class proportions.
 *
 * Each class's samples are sorted by path, so the result does not depend on
 * the input order, then shuffled with one {@linkcode Rng} seeded with
 * `options.seed`, in class-index order. A class of n samples gives
 * round(n * testFraction) to test, round(n * valFraction) to val and the rest
 * to train. A class with at least 2 samples gives at least one to val when
 * `valFraction` is above 0, and one with at least 3 gives at least one to test
 * when `testFraction` is above 0. Train keeps at least one sample of every
 * class: when the rounding would take them all, test and then val give back.
 *
 * @throws {RangeError} if a fraction is outside [0, 1), the fractions sum to 1
 * or more, or the seed is not an integer.
 */
export function stratifiedSplit(samples: Sample[], options: StratifiedSplitOptions): Split {
  const valFraction = options.valFraction;
  const testFraction = options.testFraction ?? 0;
  validateFraction("valFraction", valFraction);
  validateFraction("testFraction", testFraction);
  if (valFraction + testFraction >= 1) {
    throw new RangeError(
      `valFraction + testFraction is ${valFraction + testFraction}, but must be below 1 ` +
        `so that some samples are left to train on. Lower one of them.`,
    );
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new RangeError(`Invalid seed ${options.seed}: use an integer, for example 42.`);
  }

  const rng = new Rng(options.seed);
  const split: Split = { train: [], val: [], test: [] };
  for (const members of groupByLabel(samples)) {
    members.sort((a, b) => compareCodePoints(a.path, b.path));
    rng.shuffle(members);
    const { valCount, testCount } = partSizes(members.length, valFraction, testFraction);
    split.test.push(...members.slice(0, testCount));
    split.val.push(...members.slice(testCount, testCount + valCount));
    split.train.push(...members.slice(testCount + valCount));
  }
  return split;
}

/**
 * Reads the split given by the list files in `dir`: one file whose name ends
 * in `_train.txt`, one ending in `_val.txt` and optionally one ending in
 * `_test.txt`. Each non-blank line is `<file name> <anything>`. The file name
 * is looked up by base name in the dataset's class folders, and the rest of
 * the line (TrashNet's numeric labels, which do not follow the sorted class
 * order) is ignored. A file name therefore cannot contain whitespace. Each
 * part keeps the order of its list.
 *
 * @throws {DatasetError} if a list is missing or ambiguous, or names a file
 * that is in no class folder, in two of them, or in two lists.
 */
export async function readSplitDir(dir: string, dataset: Dataset): Promise<Split> {
  const lists = await findListFiles(dir);
  const byName = indexByFileName(dataset.samples);
  const split: Split = { train: [], val: [], test: [] };
  const listedIn = new Map<string, string>();
  const duplicates: string[] = [];

  for (const part of ["train", "val", "test"] as const) {
    const listPath = lists[part];
    if (listPath === undefined) continue;
    const names = parseList(await Deno.readTextFile(listPath));
    split[part] = resolveNames(names, byName, listPath);
    for (const name of names) {
      const previous = listedIn.get(name);
      if (previous !== undefined) {
        duplicates.push(`${name} (${previous} and ${basename(listPath)})`);
      }
      listedIn.set(name, basename(listPath));
    }
  }

  if (duplicates.length > 0) {
    throw new DatasetError(
      `${duplicates.length} file name(s) are listed more than once in the split lists in ` +
        `"${dir}": ${listNames(duplicates)}. List each file in only one list, once.`,
    );
  }
  return split;
}

/**
 * Counts the samples of each class, in the order of `classNames`, including
 * classes with no samples.
 *
 * @throws {RangeError} if a sample's label is not an index into `classNames`.
 */
export function classCounts(samples: Sample[], classNames: string[]): Record<string, number> {
  const counts = new Array<number>(classNames.length).fill(0);
  for (const sample of samples) {
    if (!Number.isInteger(sample.label) || sample.label < 0 || sample.label >= counts.length) {
      throw new RangeError(
        `Sample "${sample.path}" has label ${sample.label}, but there are ` +
          `${classNames.length} class names. Pass the class names of the dataset it came from.`,
      );
    }
    counts[sample.label]++;
  }
  return Object.fromEntries(classNames.map((name, index) => [name, counts[index]]));
}

function validateFraction(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value < 1)) {
    throw new RangeError(`Invalid ${name} ${value}: use a number in [0, 1), for example 0.2.`);
  }
}

function groupByLabel(samples: Sample[]): Sample[][] {
  const groups = new Map<number, Sample[]>();
  for (const sample of samples) {
    const group = groups.get(sample.label);
    if (group) group.push(sample);
    else groups.set(sample.label, [sample]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

function partSizes(
  count: number,
  valFraction: number,
  testFraction: number,
): { valCount: number; testCount: number } {
  let testCount = Math.round(count * testFraction);
  if (testFraction > 0 && count >= 3) testCount = Math.max(testCount, 1);
  let valCount = Math.round(count * valFraction);
  if (valFraction > 0 && count >= 2) valCount = Math.max(valCount, 1);

  // Rounding up two parts of a small class can leave train empty.
  while (count - valCount - testCount < 1 && testCount > 0) testCount--;
  while (count - valCount - testCount < 1 && valCount > 0) valCount--;
  return { valCount, testCount };
}

async function findListFiles(dir: string): Promise<Partial<Record<keyof Split, string>>> {
  const found: Record<keyof Split, string[]> = { train: [], val: [], test: [] };
  try {
    for await (const entry of Deno.readDir(dir)) {
      for (const part of ["train", "val", "test"] as const) {
        if (entry.name.endsWith(`_${part}.txt`)) found[part].push(join(dir, entry.name));
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      throw error;
    }
    throw new DatasetError(
      `Split folder "${dir}" does not exist or is not a folder. Pass the folder that ` +
        `contains the *_train.txt and *_val.txt lists.`,
    );
  }

  for (const part of ["train", "val", "test"] as const) {
    if (found[part].length > 1) {
      throw new DatasetError(
        `Split folder "${dir}" contains ${found[part].length} files ending in _${part}.txt ` +
          `(${listNames(found[part].map((path) => basename(path)))}). Keep one of them there.`,
      );
    }
  }
  for (const part of ["train", "val"] as const) {
    if (found[part].length === 0) {
      throw new DatasetError(
        `Split folder "${dir}" contains no file ending in _${part}.txt. Add the ${part} ` +
          `list, one "<file name> <label>" line per image.`,
      );
    }
  }
  return { train: found.train[0], val: found.val[0], test: found.test[0] };
}

function parseList(text: string): string[] {
  return text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => line.split(/\s+/)[0]);
}

function indexByFileName(samples: Sample[]): Map<string, Sample[]> {
  const byName = new Map<string, Sample[]>();
  for (const sample of samples) {
    const name = basename(sample.path);
    const matches = byName.get(name);
    if (matches) matches.push(sample);
    else byName.set(name, [sample]);
  }
  return byName;
}

function resolveNames(
  names: string[],
  byName: Map<string, Sample[]>,
  listPath: string,
): Sample[] {
  const missing: string[] = [];
  const ambiguous: string[] = [];
  const samples: Sample[] = [];
  for (const name of names) {
    const matches = byName.get(name) ?? [];
    if (matches.length === 0) missing.push(name);
    else if (matches.length > 1) {
      ambiguous.push(`${name} (${matches.map((m) => m.className).join(", ")})`);
    } else samples.push(matches[0]);
  }

  if (missing.length > 0) {
    throw new DatasetError(
      `${missing.length} file(s) listed in "${listPath}" are in no class folder: ` +
        `${listNames(missing)}. Check that the list belongs to this dataset, or remove the lines.`,
    );
  }
  if (ambiguous.length > 0) {
    throw new DatasetError(
      `${ambiguous.length} file(s) listed in "${listPath}" are in more than one class ` +
        `folder: ${listNames(ambiguous)}. Rename or remove the copies so each name is unique.`,
    );
  }
  return samples;
}
