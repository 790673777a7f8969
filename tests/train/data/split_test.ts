import assert from "node:assert/strict";
import { join } from "node:path";
import { Rng } from "../../../shared/random.ts";
import { DatasetError } from "../../../train/data/errors.ts";
import { type Dataset, type Sample, scanImageFolder } from "../../../train/data/image_folder.ts";
import {
  classCounts,
  readSplitDir,
  type Split,
  stratifiedSplit,
} from "../../../train/data/split.ts";

const SHARED_DATA = join(import.meta.dirname!, "../../../../shared/data");
const hasTrashNet = await exists(join(SHARED_DATA, "trashnet-splits"));
if (!hasTrashNet) console.warn(`Skipping the TrashNet split lists: ${SHARED_DATA} is absent.`);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const CLASS_NAMES = ["cardboard", "glass", "metal", "paper", "trash"];
const CLASS_SIZES = [100, 50, 10, 2, 1];

function makeSamples(sizes = CLASS_SIZES): Sample[] {
  return sizes.flatMap((size, label) =>
    Array.from({ length: size }, (_, i) => ({
      path: `/data/${CLASS_NAMES[label]}/${CLASS_NAMES[label]}${i + 1}.jpg`,
      label,
      className: CLASS_NAMES[label],
    }))
  );
}

function paths(samples: Sample[]): string[] {
  return samples.map((s) => s.path);
}

function countsOf(samples: Sample[]): number[] {
  return Object.values(classCounts(samples, CLASS_NAMES));
}

Deno.test("stratifiedSplit keeps class proportions", async (t) => {
  const samples = makeSamples();
  const split = stratifiedSplit(samples, { valFraction: 0.2, seed: 7 });

  await t.step("val gets round(n * 0.2), at least 1 from classes of 2 or more", () => {
    assert.deepEqual(countsOf(split.val), [20, 10, 2, 1, 0]);
    assert.deepEqual(countsOf(split.train), [80, 40, 8, 1, 1]);
    assert.deepEqual(split.test, []);
  });

  await t.step("parts cover the samples once", () => {
    const all = [...split.train, ...split.val].map((s) => s.path).sort();
    assert.deepEqual(all, paths(samples).sort());
  });

  await t.step("with a test fraction", () => {
    const three = stratifiedSplit(samples, { valFraction: 0.1, testFraction: 0.2, seed: 7 });
    assert.deepEqual(countsOf(three.test), [20, 10, 2, 0, 0]);
    assert.deepEqual(countsOf(three.val), [10, 5, 1, 1, 0]);
    assert.deepEqual(countsOf(three.train), [70, 35, 7, 1, 1]);
    const all = [...three.train, ...three.val, ...three.test].map((s) => s.path).sort();
    assert.deepEqual(all, paths(samples).sort());
  });

  await t.step("train keeps one sample of a small class", () => {
    const small = stratifiedSplit(makeSamples([3, 2]), {
      valFraction: 0.45,
      testFraction: 0.45,
      seed: 1,
    });
    // Class 0: round(1.35) = 1 each, 1 left to train. Class 1: round(0.9) = 1
    // each would leave none, so test gives its sample back.
    assert.deepEqual(countsOf(small.train).slice(0, 2), [1, 1]);
    assert.deepEqual(countsOf(small.val).slice(0, 2), [1, 1]);
    assert.deepEqual(countsOf(small.test).slice(0, 2), [1, 0]);
  });

  await t.step("zero val fraction", () => {
    const none = stratifiedSplit(samples, { valFraction: 0, seed: 7 });
    assert.equal(none.val.length, 0);
    assert.equal(none.train.length, samples.length);
  });
});

Deno.test("stratifiedSplit is reproducible from its seed", async (t) => {
  const samples = makeSamples();
  const options = { valFraction: 0.2, seed: 42 };
  const first = stratifiedSplit(samples, options);

  await t.step("same seed, same split", () => {
    const again = stratifiedSplit(samples, options);
    assert.deepEqual(paths(again.train), paths(first.train));
    assert.deepEqual(paths(again.val), paths(first.val));
  });

  await t.step("input order does not matter", () => {
    const shuffled = new Rng(3).shuffle([...samples]);
    const again = stratifiedSplit(shuffled, options);
    assert.deepEqual(paths(again.train), paths(first.train));
    assert.deepEqual(paths(again.val), paths(first.val));
  });

  await t.step("input is left unchanged", () => {
    const copy = [...samples];
    stratifiedSplit(copy, options);
    assert.deepEqual(paths(copy), paths(samples));
  });

  await t.step("another seed, another split", () => {
    const other = stratifiedSplit(samples, { valFraction: 0.2, seed: 43 });
    assert.notDeepEqual(paths(other.val), paths(first.val));
    assert.deepEqual(countsOf(other.val), countsOf(first.val));
  });

  await t.step("val is not simply the first files", () => {
    const glassVal = first.val.filter((s) => s.className === "glass").map((s) => s.path);
    const firstTen = paths(samples.filter((s) => s.className === "glass")).sort().slice(0, 10);
    assert.notDeepEqual([...glassVal].sort(), firstTen);
  });
});

Deno.test("stratifiedSplit rejects bad options", async (t) => {
  const samples = makeSamples();
  for (
    const [name, options, pattern] of [
      [
        "val fraction of 1",
        { valFraction: 1, seed: 1 },
        /Invalid valFraction 1: use a number in \[0, 1\)/,
      ],
      ["negative val fraction", { valFraction: -0.1, seed: 1 }, /Invalid valFraction -0.1/],
      [
        "NaN test fraction",
        { valFraction: 0.2, testFraction: NaN, seed: 1 },
        /Invalid testFraction NaN/,
      ],
      [
        "fractions summing to 1",
        { valFraction: 0.5, testFraction: 0.5, seed: 1 },
        /is 1, but must be below 1/,
      ],
      ["fractional seed", { valFraction: 0.2, seed: 1.5 }, /Invalid seed 1.5/],
    ] as const
  ) {
    await t.step(name, () => {
      assert.throws(() => stratifiedSplit(samples, options), pattern);
    });
  }
});

Deno.test("classCounts counts every class", async (t) => {
  await t.step("includes empty classes in class order", () => {
    const counts = classCounts(makeSamples([3, 0, 1, 0, 2]), CLASS_NAMES);
    assert.deepEqual(counts, { cardboard: 3, glass: 0, metal: 1, paper: 0, trash: 2 });
    assert.deepEqual(Object.keys(counts), CLASS_NAMES);
  });
  await t.step("rejects a label out of range", () => {
    const sample = { path: "/x/a.jpg", label: 5, className: "x" };
    assert.throws(
      () => classCounts([sample], CLASS_NAMES),
      /Sample "\/x\/a.jpg" has label 5, but there are 5 class names/,
    );
  });
});

/** Creates an ImageFolder with empty image files and a folder of split lists. */
async function makeListFixture(
  lists: Record<string, string>,
): Promise<{ root: string; dataset: Dataset; splitDir: string }> {
  const root = await Deno.makeTempDir({ prefix: "split_test_" });
  const images: Record<string, string[]> = {
    glass: ["glass1.jpg", "glass2.jpg", "glass3.jpg"],
    paper: ["paper1.jpg", "paper2.jpg", "paper3.jpg"],
    trash: ["trash1.jpg", "trash2.jpg"],
  };
  for (const [className, files] of Object.entries(images)) {
    await Deno.mkdir(join(root, "data", className), { recursive: true });
    for (const file of files) {
      await Deno.writeFile(join(root, "data", className, file), new Uint8Array());
    }
  }
  await Deno.mkdir(join(root, "splits"));
  for (const [name, text] of Object.entries(lists)) {
    await Deno.writeTextFile(join(root, "splits", name), text);
  }
  const dataset = await scanImageFolder(join(root, "data"));
  return { root, dataset, splitDir: join(root, "splits") };
}

async function withLists(
  lists: Record<string, string>,
  body: (fixture: { dataset: Dataset; splitDir: string }) => Promise<void>,
): Promise<void> {
  const fixture = await makeListFixture(lists);
  try {
    await body(fixture);
  } finally {
    await Deno.remove(fixture.root, { recursive: true });
  }
}

function names(split: Split, part: keyof Split): string[] {
  return split[part].map((s) => s.path.split("/").pop()!);
}

const GOOD_LISTS = {
  "files_train.txt": "glass1.jpg 1\npaper1.jpg 2\r\n\npaper2.jpg 2\ntrash1.jpg 6\nglass2.jpg 1\n",
  "files_val.txt": "  paper3.jpg 2\n\nglass3.jpg 1",
  "files_test.txt": "trash2.jpg 6\n",
  "files.txt": "glass1.jpg 1\n",
};

Deno.test("readSplitDir reads list files", async (t) => {
  await withLists(GOOD_LISTS, async ({ dataset, splitDir }) => {
    const split = await readSplitDir(splitDir, dataset);

    await t.step("lines in list order, blank lines skipped", () => {
      assert.deepEqual(names(split, "train"), [
        "glass1.jpg",
        "paper1.jpg",
        "paper2.jpg",
        "trash1.jpg",
        "glass2.jpg",
      ]);
      assert.deepEqual(names(split, "val"), ["paper3.jpg", "glass3.jpg"]);
      assert.deepEqual(names(split, "test"), ["trash2.jpg"]);
    });

    await t.step("labels come from the folders", () => {
      // The lists label trash 6, but the sorted folder order makes it class 2.
      const trash = split.test[0];
      assert.equal(trash.label, 2);
      assert.equal(trash.className, "trash");
      assert.equal(split.train[0].label, dataset.classNames.indexOf("glass"));
    });
  });
});

Deno.test("readSplitDir without a test list", async () => {
  const { "files_test.txt": _, ...lists } = GOOD_LISTS;
  await withLists(lists, async ({ dataset, splitDir }) => {
    const split = await readSplitDir(splitDir, dataset);
    assert.equal(split.train.length, 5);
    assert.equal(split.val.length, 2);
    assert.deepEqual(split.test, []);
  });
});

Deno.test("readSplitDir errors", async (t) => {
  await t.step("missing name", async () => {
    const lists = { ...GOOD_LISTS, "files_val.txt": "paper3.jpg 2\nglass9.jpg 1\nmetal1.jpg 5\n" };
    await withLists(lists, async ({ dataset, splitDir }) => {
      await assert.rejects(
        () => readSplitDir(splitDir, dataset),
        (error: Error) => {
          assert.ok(error instanceof DatasetError);
          assert.match(
            error.message,
            /2 file\(s\) listed in ".*files_val\.txt" are in no class folder/,
          );
          assert.match(error.message, /"glass9\.jpg", "metal1\.jpg"/);
          return true;
        },
      );
    });
  });

  await t.step("many missing names are cut at 20", async () => {
    const missing = Array.from({ length: 25 }, (_, i) => `gone${i}.jpg 1`).join("\n");
    await withLists(
      { ...GOOD_LISTS, "files_train.txt": missing },
      async ({ dataset, splitDir }) => {
        await assert.rejects(
          () => readSplitDir(splitDir, dataset),
          /25 file\(s\) listed .* "gone19\.jpg" and 5 more/,
        );
      },
    );
  });

  await t.step("missing val list", async () => {
    const { "files_val.txt": _, ...lists } = GOOD_LISTS;
    await withLists(lists, async ({ dataset, splitDir }) => {
      await assert.rejects(
        () => readSplitDir(splitDir, dataset),
        /Split folder ".*splits" contains no file ending in _val\.txt/,
      );
    });
  });

  await t.step("missing train list", async () => {
    const { "files_train.txt": _, ...lists } = GOOD_LISTS;
    await withLists(lists, async ({ dataset, splitDir }) => {
      await assert.rejects(() => readSplitDir(splitDir, dataset), /no file ending in _train\.txt/);
    });
  });

  await t.step("two train lists", async () => {
    await withLists(
      { ...GOOD_LISTS, "other_train.txt": "glass1.jpg 1\n" },
      async ({ dataset, splitDir }) => {
        await assert.rejects(
          () => readSplitDir(splitDir, dataset),
          /contains 2 files ending in _train\.txt \(".*", ".*"\)\. Keep one of them there/,
        );
      },
    );
  });

  await t.step("name listed twice", async () => {
    const lists = { ...GOOD_LISTS, "files_test.txt": "trash2.jpg 6\nglass1.jpg 1\n" };
    await withLists(lists, async ({ dataset, splitDir }) => {
      await assert.rejects(
        () => readSplitDir(splitDir, dataset),
        /1 file name\(s\) are listed more than once .*"glass1\.jpg \(files_train\.txt and files_test\.txt\)"/,
      );
    });
  });

  await t.step("name in two class folders", async () => {
    await withLists(GOOD_LISTS, async ({ dataset, splitDir }) => {
      const copy = { path: "/elsewhere/paper/glass1.jpg", label: 1, className: "paper" };
      const withCopy = { ...dataset, samples: [...dataset.samples, copy] };
      await assert.rejects(
        () => readSplitDir(splitDir, withCopy),
        /1 file\(s\) listed in ".*files_train\.txt" are in more than one class folder: "glass1\.jpg \(glass, paper\)"/,
      );
    });
  });

  await t.step("missing split folder", async () => {
    await withLists(GOOD_LISTS, async ({ dataset, splitDir }) => {
      await assert.rejects(
        () => readSplitDir(join(splitDir, "nowhere"), dataset),
        /Split folder ".*nowhere" does not exist or is not a folder/,
      );
    });
  });
});

Deno.test({
  name: "readSplitDir on the TrashNet lists",
  ignore: !hasTrashNet,
  async fn() {
    const dataset = await scanImageFolder(join(SHARED_DATA, "trashnet"));
    const split = await readSplitDir(join(SHARED_DATA, "trashnet-splits"), dataset);
    assert.equal(split.train.length, 1768);
    assert.equal(split.val.length, 328);
    assert.equal(split.test.length, 431);

    const all = new Set([...split.train, ...split.val, ...split.test].map((s) => s.path));
    assert.equal(all.size, 1768 + 328 + 431, "a file is in two parts");
    const trainCounts = classCounts(split.train, dataset.classNames);
    assert.ok(Object.values(trainCounts).every((count) => count > 0), JSON.stringify(trainCounts));
  },
});
