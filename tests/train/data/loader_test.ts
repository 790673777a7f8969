import assert from "node:assert/strict";
import { join } from "node:path";
import { DecoderPool } from "../../../shared/image/decoder_pool.ts";
import type { Sample } from "../../../train/data/image_folder.ts";
import { decodeAll, type ImageDecoder, type RgbImage } from "../../../train/data/loader.ts";

/** Error shaped like the decoders' ImageDecodeError, which may arrive as a copy from a worker. */
class FakeDecodeError extends Error {
  code = "invalid_image";
  constructor(message: string) {
    super(message);
    this.name = "ImageDecodeError";
  }
}

/**
 * A decoder that reads the first byte as the image side and fails on files
 * that start with "B". It records the most calls in flight at once.
 */
class MockPool implements ImageDecoder {
  inFlight = 0;
  maxInFlight = 0;
  options: ({ maxPixels?: number } | undefined)[] = [];

  async decode(bytes: Uint8Array, options?: { maxPixels?: number }): Promise<RgbImage> {
    this.options.push(options);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Yield to the event loop so that calls overlap as they would with workers.
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (bytes[0] === "B".charCodeAt(0)) throw new FakeDecodeError("Not a JPEG file.");
      if (bytes[0] === "X".charCodeAt(0)) throw new TypeError("decoder bug");
      const side = bytes[0];
      return { width: side, height: side, data: new Uint8Array(side * side * 3).fill(side) };
    } finally {
      this.inFlight--;
    }
  }
}

async function withFiles(
  files: Record<string, number[] | string>,
  body: (root: string, samples: Sample[]) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "loader_test_" });
  try {
    const samples: Sample[] = [];
    for (const [name, content] of Object.entries(files)) {
      const bytes = typeof content === "string"
        ? new TextEncoder().encode(content)
        : Uint8Array.from(content);
      await Deno.writeFile(join(root, name), bytes);
      samples.push({ path: join(root, name), label: samples.length % 2, className: "c" });
    }
    await body(root, samples);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const FILES: Record<string, number[] | string> = {
  "a.jpg": [4],
  "b.jpg": "Bad bytes",
  "c.jpg": [6],
  "d.jpg": [8],
  "e.jpg": "Broken too",
  "f.jpg": [10],
};

Deno.test("decodeAll skips files that fail", async (t) => {
  await withFiles(FILES, async (root, samples) => {
    const missing = { path: join(root, "gone.jpg"), label: 0, className: "c" };
    const withMissing = [...samples.slice(0, 3), missing, ...samples.slice(3)];
    const progress: [number, number][] = [];
    const pool = new MockPool();
    const result = await decodeAll(withMissing, {
      pool,
      concurrency: 3,
      onProgress: (done, total) => progress.push([done, total]),
    });

    await t.step("decoded in input order", () => {
      assert.deepEqual(result.decoded.map((d) => d.sample.path), [
        join(root, "a.jpg"),
        join(root, "c.jpg"),
        join(root, "d.jpg"),
        join(root, "f.jpg"),
      ]);
      assert.deepEqual(result.decoded.map((d) => d.image.width), [4, 6, 8, 10]);
    });

    await t.step("skipped list names the files and reasons", () => {
      assert.deepEqual(result.skipped.map((s) => s.path), [
        join(root, "b.jpg"),
        missing.path,
        join(root, "e.jpg"),
      ]);
      assert.equal(result.skipped[0].reason, "invalid_image: Not a JPEG file.");
      assert.match(result.skipped[1].reason, /No such file|not found/i);
    });

    await t.step("progress reaches the total", () => {
      assert.equal(progress.length, 7);
      assert.deepEqual(progress.at(-1), [7, 7]);
      assert.deepEqual(progress.map(([done]) => done), [1, 2, 3, 4, 5, 6, 7]);
    });

    await t.step("concurrency is bounded", () => {
      assert.ok(pool.maxInFlight <= 3, `max in flight ${pool.maxInFlight}`);
      assert.ok(pool.maxInFlight >= 2, "calls did not overlap");
    });

    await t.step("no maxPixels by default", () => {
      assert.ok(pool.options.every((options) => options === undefined));
    });
  });
});

Deno.test("decodeAll downscales for the cache", async () => {
  await withFiles({ "a.jpg": [4], "b.jpg": [10] }, async (_root, samples) => {
    const calls: [number, number][] = [];
    const halve = (image: RgbImage, minSide: number): RgbImage => {
      calls.push([image.width, minSide]);
      const side = Math.min(image.width, minSide);
      return { width: side, height: side, data: new Uint8Array(side * side * 3) };
    };
    const pool = new MockPool();
    const { decoded } = await decodeAll(samples, {
      pool,
      cacheMinSide: 5,
      downscale: halve,
      maxPixels: 400,
    });
    assert.deepEqual(calls.sort(), [[10, 5], [4, 5]].sort());
    assert.deepEqual(decoded.map((d) => d.image.width), [4, 5]);
    assert.deepEqual(pool.options, [{ maxPixels: 400, minSide: 5 }, {
      maxPixels: 400,
      minSide: 5,
    }]);
  });
});

Deno.test("decodeAll rethrows other errors", async () => {
  await withFiles({ "a.jpg": [4], "x.jpg": "X marks a bug" }, async (_root, samples) => {
    await assert.rejects(() => decodeAll(samples, { pool: new MockPool() }), TypeError);
  });
});

Deno.test("decodeAll with no samples", async () => {
  const result = await decodeAll([], { pool: new MockPool() });
  assert.deepEqual(result, { decoded: [], skipped: [] });
});

Deno.test("decodeAll rejects bad options", async (t) => {
  const pool = new MockPool();
  await t.step("cacheMinSide of 0", async () => {
    await assert.rejects(
      () => decodeAll([], { pool, cacheMinSide: 0, downscale: (image) => image }),
      /Invalid cacheMinSide 0/,
    );
  });
  await t.step("concurrency of 0", async () => {
    await assert.rejects(() => decodeAll([], { pool, concurrency: 0 }), /Invalid concurrency 0/);
  });
});

const TRASHNET = join(import.meta.dirname!, "../../../../shared/data/trashnet");
const hasTrashNet = await Deno.stat(TRASHNET).then(() => true, () => false);
if (!hasTrashNet) console.warn(`Skipping decodeAll on photos: ${TRASHNET} is absent.`);

Deno.test({
  name: "decodeAll with DecoderPool on photos",
  ignore: !hasTrashNet,
  async fn(t) {
    const classes = ["cardboard", "glass", "metal", "paper", "plastic", "trash"];
    const photos: Sample[] = classes.map((className, label) => ({
      path: join(TRASHNET, className, `${className}1.jpg`),
      label,
      className,
    }));

    await withFiles(
      { "truncated.jpg": [0xff, 0xd8, 0xff, 0xe0, 0, 16], "notes.png": "not an image" },
      async (root, broken) => {
        const pool = new DecoderPool({ size: 2 });
        try {
          const samples = [...photos.slice(0, 3), ...broken, ...photos.slice(3)];
          // No downscale option: the default, downscaleForCache, applies.
          const { decoded, skipped } = await decodeAll(samples, { pool, cacheMinSide: 73 });

          await t.step("photos decoded and downscaled", () => {
            assert.deepEqual(decoded.map((d) => d.sample.className), classes);
            for (const { image, sample } of decoded) {
              // TrashNet photos are 512 x 384, so the shorter side becomes 73.
              assert.equal(image.height, 73, sample.path);
              assert.equal(image.width, 97, sample.path);
              assert.equal(image.data.length, 97 * 73 * 3, sample.path);
            }
          });

          await t.step("broken files skipped with their codes", () => {
            assert.deepEqual(skipped.map((s) => s.path), [
              join(root, "truncated.jpg"),
              join(root, "notes.png"),
            ]);
            assert.match(skipped[0].reason, /^invalid_image: /);
            assert.match(skipped[1].reason, /^unsupported_format: /);
          });
        } finally {
          pool.close();
        }
      },
    );
  },
});
