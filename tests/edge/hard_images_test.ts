/**
 * Sends every file of the shared hard-image fixtures through
 * `POST /v1/classify`, raw and as multipart, and checks the outcome that the
 * fixtures' TSV requires. Classified images must match the predictions of the
 * shared decoder and preprocessing called directly.
 */
import assert from "node:assert/strict";
import {
  createTestService,
  multipartBody,
  referencePredictions,
  tensorCount,
} from "./helpers/service.ts";

const FIXTURES = new URL("../../../shared/fixtures/", import.meta.url);
const HARD_IMAGES = new URL("hard-images/", FIXTURES);
const TSV = new URL("hard-images.tsv", FIXTURES);

/** An acceptable outcome: a 200 with the upright size, or an error code. */
type Outcome =
  | { status: 200; width?: number; height?: number }
  | { status: number; code: string; message?: RegExp };

const CLASSIFIED: Outcome = { status: 200 };

/**
 * What each file must get, from the TSV's last column. Where the TSV allows
 * either a classification or a clear error, both outcomes are listed.
 */
const EXPECTED: Record<string, Outcome[]> = {
  "exif_orient_1.jpg": [{ status: 200, width: 1800, height: 1200 }],
  "exif_orient_3.jpg": [{ status: 200, width: 1800, height: 1200 }],
  "exif_orient_6.jpg": [{ status: 200, width: 1800, height: 1200 }],
  "exif_orient_8.jpg": [{ status: 200, width: 1800, height: 1200 }],
  "exif_portrait_orient_6.jpg": [{ status: 200, width: 1200, height: 1800 }],
  "jpeg_progressive.jpg": [{ status: 200, width: 1920, height: 1080 }],
  "jpeg_cmyk_adobe.jpg": [CLASSIFIED],
  "jpeg_gray.jpg": [CLASSIFIED],
  "jpeg_truncated_half.jpg": [CLASSIFIED, { status: 400, code: "invalid_image" }],
  "png_palette_trns.png": [CLASSIFIED],
  "png_rgb16.png": [CLASSIFIED],
  "png_interlaced_rgba.png": [CLASSIFIED],
  "png_bomb_50000x50000.png": [{ status: 422, code: "image_too_large" }],
  "png_bomb_valid_20000x20000.png": [{ status: 422, code: "image_too_large" }],
  "gif_animated_loop3.gif": [CLASSIFIED],
  "webp_lossy.webp": [CLASSIFIED],
  "heic_example.heic": [
    CLASSIFIED,
    { status: 415, code: "unsupported_media_type", message: /send .*JPEG/i },
  ],
  "tiff_uncompressed.tiff": [CLASSIFIED, { status: 415, code: "unsupported_media_type" }],
  "bmp_24bit.bmp": [CLASSIFIED, { status: 415, code: "unsupported_media_type" }],
  "svg_circle.svg": [{ status: 415, code: "unsupported_media_type" }],
  "empty_0byte.jpg": [{ status: 400, code: "empty_body" }],
  "text_renamed.jpg": [
    { status: 415, code: "unsupported_media_type" },
    { status: 400, code: "invalid_image" },
  ],
  "jpeg_large_8000x6000.jpg": [{ status: 200, width: 8000, height: 6000 }],
};

async function listedFiles(): Promise<string[] | undefined> {
  try {
    const text = await Deno.readTextFile(TSV);
    return text.trim().split("\n").slice(1).map((line) => line.split("\t")[0]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const files = await listedFiles();
if (!files) {
  console.warn(
    `SKIPPED hard-image tests: ${TSV.pathname} not found. They need the shared fixtures folder beside the repository.`,
  );
}

// deno-lint-ignore no-explicit-any
function matches(outcome: Outcome, status: number, body: Record<string, any>): boolean {
  if (outcome.status !== status) return false;
  if ("code" in outcome) {
    return body.error?.code === outcome.code &&
      (outcome.message === undefined || outcome.message.test(body.error.message));
  }
  return (outcome.width === undefined || body.image.width === outcome.width) &&
    (outcome.height === undefined || body.image.height === outcome.height);
}

Deno.test({
  name: "hard images through POST /v1/classify",
  ignore: !files,
  async fn(t) {
    const { app, close } = await createTestService({ decodeWorkers: 1 });
    const baseline = tensorCount();

    await t.step("every fixture has an expected outcome", () => {
      assert.deepEqual([...files!].sort(), Object.keys(EXPECTED).sort());
    });

    for (const name of files!) {
      await t.step(name, async () => {
        const bytes = await Deno.readFile(new URL(name, HARD_IMAGES));
        const requests: [string, RequestInit][] = [
          // The Content-Type claims JPEG whatever the file is: the bytes decide.
          ["raw", { method: "POST", body: bytes, headers: { "content-type": "image/jpeg" } }],
          ["multipart", { method: "POST", body: multipartBody(bytes, "image", name) }],
        ];
        let reference: unknown;
        for (const [shape, init] of requests) {
          const response = await app.request("/v1/classify?top_k=6", init);
          const body = await response.json();
          assert.ok(
            EXPECTED[name].some((outcome) => matches(outcome, response.status, body)),
            `${shape}: got ${response.status} ${JSON.stringify(body.error ?? body.image)}`,
          );
          if (response.status === 200) {
            reference ??= await referencePredictions(bytes, 6);
            assert.deepEqual(body.predictions, reference, shape);
          } else {
            assert.ok(body.error.message.length > 20, body.error.message);
          }
          assert.equal(tensorCount(), baseline, `${shape}: tensors leaked`);
        }
      });
    }

    close();
  },
});

const COMMITTED = new URL("../fixtures/images/", import.meta.url);

/**
 * Returns the outcomes allowed for a committed image fixture, from its name:
 * files named with a size of 10000 pixels or more a side (header and
 * decompression bombs) must be rejected before decoding, truncated files may decode
 * partly or be rejected as invalid, and every other file must classify.
 */
function committedOutcomes(name: string): Outcome[] {
  if (/_\d{5,}x\d{5,}\./.test(name)) return [{ status: 422, code: "image_too_large" }];
  if (name.startsWith("truncated")) return [CLASSIFIED, { status: 400, code: "invalid_image" }];
  return [CLASSIFIED];
}

Deno.test("committed image fixtures through POST /v1/classify", async (t) => {
  const { app } = await createTestService();
  const baseline = tensorCount();
  const names = [];
  for await (const entry of Deno.readDir(COMMITTED)) {
    if (entry.isFile && !entry.name.endsWith(".md")) names.push(entry.name);
  }
  assert.ok(names.length > 0, `no fixtures in ${COMMITTED.pathname}`);

  for (const name of names.sort()) {
    await t.step(name, async () => {
      const bytes = await Deno.readFile(new URL(name, COMMITTED));
      const response = await app.request("/v1/classify?top_k=6", { method: "POST", body: bytes });
      const body = await response.json();
      assert.ok(
        committedOutcomes(name).some((outcome) => matches(outcome, response.status, body)),
        `got ${response.status} ${JSON.stringify(body.error ?? body.image)}`,
      );
      if (response.status === 200) {
        assert.deepEqual(body.predictions, await referencePredictions(bytes, 6));
      }
      assert.equal(tensorCount(), baseline, "tensors leaked");
    });
  }
});

const TRASHNET_MINI = new URL("../fixtures/trashnet-mini/", import.meta.url);

Deno.test("TrashNet photos through POST /v1/classify", async (t) => {
  const { app } = await createTestService();
  const baseline = tensorCount();
  for await (const folder of Deno.readDir(TRASHNET_MINI)) {
    if (!folder.isDirectory) continue;
    await t.step(folder.name, async () => {
      for await (const file of Deno.readDir(new URL(`${folder.name}/`, TRASHNET_MINI))) {
        const bytes = await Deno.readFile(new URL(`${folder.name}/${file.name}`, TRASHNET_MINI));
        const response = await app.request("/v1/classify", {
          method: "POST",
          body: multipartBody(bytes, "image", file.name),
        });
        const body = await response.json();
        assert.equal(response.status, 200, `${file.name}: ${JSON.stringify(body)}`);
        assert.deepEqual(body.predictions, await referencePredictions(bytes, 3), file.name);
        assert.equal(tensorCount(), baseline, `${file.name}: tensors leaked`);
      }
    });
  }
});
