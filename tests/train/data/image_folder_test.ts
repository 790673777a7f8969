import assert from "node:assert/strict";
import { join } from "node:path";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { DatasetError } from "../../../train/data/errors.ts";
import {
  classMap,
  compareCodePoints,
  listNames,
  scanImageFolder,
} from "../../../train/data/image_folder.ts";

const TRASHNET = join(import.meta.dirname!, "../../../../shared/data/trashnet");
const hasTrashNet = await exists(TRASHNET);
if (!hasTrashNet) console.warn(`Skipping the TrashNet scan: ${TRASHNET} is absent.`);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates the given files (empty) under a new temporary folder and returns its path. */
async function makeTree(files: string[]): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "image_folder_test_" });
  for (const file of files) {
    const path = join(root, file);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, new Uint8Array());
  }
  return root;
}

async function withTree(files: string[], body: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTree(files);
  try {
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("compareCodePoints orders like Python", () => {
  assert.ok(compareCodePoints("B", "a") < 0);
  assert.ok(compareCodePoints("glass", "glass2") < 0);
  assert.ok(compareCodePoints("paper", "paper") === 0);
  // U+FF01 sorts before U+1F600 by code point, but after it by UTF-16 code unit.
  assert.ok(compareCodePoints("\uFF01", "\u{1F600}") < 0);
  assert.ok(["\u{1F600}", "\uFF01"].sort()[0] === "\u{1F600}", "default sort differs");
});

Deno.test("scanImageFolder lists classes and images", async () => {
  await withTree(
    [
      "paper/p2.png",
      "paper/p1.JPG",
      "paper/notes.txt",
      "paper/.hidden.jpg",
      "glass/g1.jpeg",
      "glass/nested/g2.webp",
      "Metal/m1.heic",
      "Metal/m2.gif",
      ".cache/c1.jpg",
      "LICENSE",
    ],
    async (root) => {
      const dataset = await scanImageFolder(root);
      assert.deepEqual(dataset.classNames, ["Metal", "glass", "paper"]);
      assert.deepEqual(
        dataset.samples.map((s) => [s.path.slice(root.length + 1), s.label, s.className]),
        [
          ["Metal/m1.heic", 0, "Metal"],
          ["Metal/m2.gif", 0, "Metal"],
          ["glass/g1.jpeg", 1, "glass"],
          ["glass/nested/g2.webp", 1, "glass"],
          ["paper/p1.JPG", 2, "paper"],
          ["paper/p2.png", 2, "paper"],
        ],
      );
    },
  );
});

Deno.test("scanImageFolder warns about ignored files", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["waste-vision"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
    reset: true,
  });
  try {
    await withTree(
      ["glass/g1.jpg", "glass/notes.txt", "paper/p1.png", "paper/scan.tiff", "paper/.DS_Store"],
      async (root) => {
        await scanImageFolder(root);
      },
    );
  } finally {
    await reset();
  }

  assert.equal(records.length, 1, "one warning for all ignored files");
  assert.equal(records[0].level, "warning");
  const message = records[0].message.map(String).join("");
  assert.match(message, /^Ignored 2 file\(s\) without an image extension in /);
  assert.match(message, /"glass\/notes\.txt", "paper\/scan\.tiff"$/);
});

Deno.test("scanImageFolder sorts by code point", async () => {
  await withTree(["\u{1F600}/a.jpg", "\uFF01/b.jpg", "a/c.jpg"], async (root) => {
    const dataset = await scanImageFolder(root);
    assert.deepEqual(dataset.classNames, ["a", "\uFF01", "\u{1F600}"]);
  });
});

Deno.test("scanImageFolder follows symbolic links", async () => {
  await withTree(["glass/g1.jpg", "elsewhere/p1.jpg"], async (root) => {
    await Deno.symlink(join(root, "elsewhere"), join(root, "paper"));
    await Deno.symlink(join(root, "paper"), join(root, "paper", "loop"));
    const dataset = await scanImageFolder(root);
    assert.deepEqual(dataset.classNames, ["elsewhere", "glass", "paper"]);
    assert.deepEqual(
      dataset.samples.filter((s) => s.className === "paper").map((s) => s.path),
      [join(root, "paper", "p1.jpg")],
    );
  });
});

Deno.test("scanImageFolder errors", async (t) => {
  await t.step("missing root", async () => {
    await withTree([], async (parent) => {
      await assert.rejects(
        () => scanImageFolder(join(parent, "nowhere")),
        (error: Error) => {
          assert.ok(error instanceof DatasetError);
          assert.match(error.message, /Dataset folder ".*nowhere" does not exist/);
          assert.match(error.message, /one sub-folder of images per class/);
          return true;
        },
      );
    });
  });

  await t.step("root is a file", async () => {
    await withTree(["data.zip"], async (root) => {
      await assert.rejects(
        () => scanImageFolder(join(root, "data.zip")),
        /Dataset path ".*data\.zip" is a file, not a folder/,
      );
    });
  });

  await t.step("no class folders", async () => {
    await withTree(["a.jpg", ".git/HEAD"], async (root) => {
      await assert.rejects(() => scanImageFolder(root), /contains no class folders/);
    });
  });

  await t.step("one class folder", async () => {
    await withTree(["glass/g1.jpg"], async (root) => {
      await assert.rejects(
        () => scanImageFolder(root),
        /contains only one class folder \("glass"\), but a classifier needs at least 2 classes/,
      );
    });
  });

  await t.step("empty class folder", async () => {
    await withTree(["glass/g1.jpg"], async (root) => {
      await Deno.mkdir(join(root, "paper"));
      await assert.rejects(
        () => scanImageFolder(root),
        (error: Error) => {
          assert.ok(error instanceof DatasetError);
          assert.match(error.message, /Class folder\(s\) "paper" in ".*" contain no image files/);
          assert.match(error.message, /\.jpg \.jpeg \.png \.gif \.webp \.heic \.heif/);
          return true;
        },
      );
    });
  });

  await t.step("non-image files only", async () => {
    await withTree(
      ["glass/g1.jpg", "paper/readme.txt", "paper/.p1.jpg", "metal/m1.tiff"],
      async (root) => {
        await assert.rejects(
          () => scanImageFolder(root),
          /Class folder\(s\) "metal", "paper" in .* contain no image files/,
        );
      },
    );
  });
});

Deno.test("classMap maps indices to names", () => {
  assert.deepEqual(classMap(["cardboard", "glass", "metal"]), {
    "0": "cardboard",
    "1": "glass",
    "2": "metal",
  });
  assert.equal(JSON.stringify(classMap(["a", "b"])), '{"0":"a","1":"b"}');
});

Deno.test("listNames stops at 20 names", () => {
  const names = Array.from({ length: 23 }, (_, i) => `f${i}.jpg`);
  const text = listNames(names);
  assert.ok(text.startsWith('"f0.jpg", "f1.jpg"'));
  assert.ok(text.includes('"f19.jpg" and 3 more'));
  assert.ok(!text.includes("f20.jpg"));
  assert.equal(listNames(["a"]), '"a"');
});

Deno.test({
  name: "scanImageFolder on TrashNet",
  ignore: !hasTrashNet,
  async fn() {
    const dataset = await scanImageFolder(TRASHNET);
    assert.deepEqual(dataset.classNames, [
      "cardboard",
      "glass",
      "metal",
      "paper",
      "plastic",
      "trash",
    ]);
    assert.equal(dataset.samples.length, 2527);
    const counts = dataset.classNames.map(
      (_, label) => dataset.samples.filter((s) => s.label === label).length,
    );
    assert.deepEqual(counts, [403, 501, 410, 594, 482, 137]);
  },
});
