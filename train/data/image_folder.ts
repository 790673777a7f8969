/**
 * Scans a dataset in the ImageFolder layout: one sub-folder per class, each
 * containing that class's images. Class indices follow the folder names sorted
 * by Unicode code point, as torchvision's `ImageFolder` sorts them with
 * Python's `sorted()`, so a model trained here and one trained with PyTorch on
 * the same folder agree on the class order.
 *
 * @example
 * ```ts
 * import { classMap, scanImageFolder } from "./image_folder.ts";
 * const dataset = await scanImageFolder("/data/trashnet");
 * console.log(dataset.samples.length, classMap(dataset.classNames));
 * // 2527 { "0": "cardboard", "1": "glass", ... }
 * ```
 * @module
 */
import { extname, join, relative } from "node:path";
import { getLogger } from "../../shared/log.ts";
import { DatasetError } from "./errors.ts";

const logger = getLogger(["waste-vision", "data"]);

/** File extensions read as images, compared in lower case. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".gif",
  ".webp",
  ".heic",
  ".heif",
];

/** Maximum number of names that an error or warning lists before it stops. */
export const MAX_LISTED_NAMES = 20;

/** One image file and its class. */
export interface Sample {
  /** Path of the image file: the root passed to the scan, joined with the relative path. */
  path: string;
  /** Class index: the position of `className` in the sorted class names. */
  label: number;
  /** Name of the class folder that contains the file. */
  className: string;
}

/** The classes and image files of an ImageFolder root. */
export interface Dataset {
  /** Class folder names sorted by code point; a sample's label indexes this array. */
  classNames: string[];
  /** Every image file, ordered by class index, then by path. */
  samples: Sample[];
}

/**
 * Compares two strings by Unicode code point, as Python compares `str`.
 * JavaScript's default sort compares UTF-16 code units instead, which orders
 * characters above U+FFFF before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  while (true) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const difference = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
}

/**
 * Lists the classes and image files under `root`.
 *
 * Each visible sub-folder of `root` is a class, and every file with an
 * extension from {@linkcode IMAGE_EXTENSIONS} (any case) inside it or its
 * sub-folders is a sample of that class. Names starting with a dot are
 * skipped, and so are files directly under `root`. Symbolic links are
 * followed. Other files inside class folders are ignored with one warning.
 *
 * @throws {DatasetError} if `root` is missing or not a folder, has fewer than
 * two class folders, or has a class folder without image files.
 */
export async function scanImageFolder(root: string): Promise<Dataset> {
  await assertDirectory(root);
  const classNames = await listClassFolders(root);
  const samples: Sample[] = [];
  const emptyClasses: string[] = [];
  const ignored: string[] = [];

  for (const [label, className] of classNames.entries()) {
    const files = await listFiles(join(root, className));
    const images = files.filter(isImageFile).sort(compareCodePoints);
    ignored.push(...files.filter((file) => !isImageFile(file)).sort(compareCodePoints));
    if (images.length === 0) emptyClasses.push(className);
    for (const path of images) samples.push({ path, label, className });
  }

  if (emptyClasses.length > 0) {
    throw new DatasetError(
      `Class folder(s) ${listNames(emptyClasses)} in "${root}" contain no image files ` +
        `(${IMAGE_EXTENSIONS.join(" ")}). Add images or remove the folder(s).`,
    );
  }
  if (ignored.length > 0) {
    const names = ignored.map((path) => relative(root, path));
    logger.warn("Ignored {count} file(s) without an image extension in {root}: {names}", {
      count: ignored.length,
      root,
      names: listNames(names),
    });
  }
  return { classNames, samples };
}

/**
 * Maps each class index, as a string, to its class name: the JSON form of a
 * class map, for example `{"0": "cardboard", "1": "glass"}`.
 */
export function classMap(classNames: string[]): Record<string, string> {
  return Object.fromEntries(classNames.map((name, index) => [String(index), name]));
}

/**
 * Formats up to {@linkcode MAX_LISTED_NAMES} names in quotes, and the number
 * of names left out.
 */
export function listNames(names: readonly string[]): string {
  const listed = names.slice(0, MAX_LISTED_NAMES).map((name) => `"${name}"`).join(", ");
  const rest = names.length - MAX_LISTED_NAMES;
  return rest > 0 ? `${listed} and ${rest} more` : listed;
}

async function assertDirectory(root: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new DatasetError(
      `Dataset folder "${root}" does not exist. Pass the path of a folder that ` +
        `contains one sub-folder of images per class.`,
    );
  }
  if (!info.isDirectory) {
    throw new DatasetError(
      `Dataset path "${root}" is a file, not a folder. Pass the path of a folder that ` +
        `contains one sub-folder of images per class.`,
    );
  }
}

async function listClassFolders(root: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.name.startsWith(".")) continue;
    if (await isDirectoryEntry(join(root, entry.name), entry)) names.push(entry.name);
  }
  names.sort(compareCodePoints);

  if (names.length === 0) {
    throw new DatasetError(
      `Dataset folder "${root}" contains no class folders. Put the images of each ` +
        `class in their own sub-folder, for example "${join(root, "glass")}".`,
    );
  }
  if (names.length < 2) {
    throw new DatasetError(
      `Dataset folder "${root}" contains only one class folder ("${names[0]}"), ` +
        `but a classifier needs at least 2 classes. Add a sub-folder for each other class.`,
    );
  }
  return names;
}

/**
 * Lists the visible files under `folder` and its sub-folders. Each folder is
 * read once, by its real path, so a symbolic link loop ends the recursion.
 */
async function listFiles(folder: string, visited = new Set<string>()): Promise<string[]> {
  const realPath = await Deno.realPath(folder);
  if (visited.has(realPath)) return [];
  visited.add(realPath);

  const files: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(folder, entry.name);
    if (await isDirectoryEntry(path, entry)) {
      files.push(...await listFiles(path, visited));
    } else if (entry.isFile || entry.isSymlink) {
      files.push(path);
    }
  }
  return files;
}

async function isDirectoryEntry(path: string, entry: Deno.DirEntry): Promise<boolean> {
  if (!entry.isSymlink) return entry.isDirectory;
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    // A dangling link is neither a folder nor a readable file.
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function isImageFile(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}
