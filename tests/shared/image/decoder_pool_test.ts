import assert from "node:assert/strict";
import { decodeImage } from "../../../shared/image/decode.ts";
import { DecoderPool } from "../../../shared/image/decoder_pool.ts";
import { ImageDecodeError } from "../../../shared/image/types.ts";

const fixtures = new URL("../../fixtures/", import.meta.url);
const read = (path: string) => Deno.readFile(new URL(path, fixtures));

Deno.test("DecoderPool decodes like decodeImage", async () => {
  const pool = new DecoderPool({ size: 2 });
  try {
    const names = [
      "images/exif_orient_6.jpg",
      "images/animated.webp",
      "trashnet-mini/glass/glass1.jpg",
    ];
    for (const name of names) {
      const bytes = await read(name);
      const [inWorker, inline] = await Promise.all([pool.decode(bytes), decodeImage(bytes)]);
      assert.equal(inWorker.width, inline.width, name);
      assert.equal(inWorker.height, inline.height, name);
      assert.deepEqual(inWorker.data, inline.data, name);
    }
  } finally {
    pool.close();
  }
});

Deno.test("DecoderPool queues more requests than workers", async () => {
  const pool = new DecoderPool({ size: 2 });
  try {
    const classes = ["cardboard", "glass", "metal", "paper", "plastic", "trash"];
    const images = await Promise.all(
      classes.map(async (name) => pool.decode(await read(`trashnet-mini/${name}/${name}1.jpg`))),
    );
    for (const image of images) {
      assert.equal(image.width, 128);
      assert.equal(image.height, 96);
    }
  } finally {
    pool.close();
  }
});

Deno.test("DecoderPool re-creates errors with their code", async () => {
  const pool = new DecoderPool({ size: 1 });
  try {
    const cases: [Uint8Array, string, string | undefined][] = [
      [new Uint8Array(0), "empty_image", undefined],
      [new TextEncoder().encode("not an image"), "unsupported_format", undefined],
      [await read("images/png_1bit_20000x20000.png"), "too_many_pixels", "png"],
      [await read("images/jpeg_header_60000x60000.jpg"), "too_many_pixels", "jpeg"],
    ];
    for (const [bytes, code, format] of cases) {
      await assert.rejects(pool.decode(bytes), (error: unknown) => {
        assert.ok(error instanceof ImageDecodeError, `expected ImageDecodeError, got ${error}`);
        assert.equal(error.code, code);
        assert.equal(error.format, format);
        return true;
      });
    }
    await assert.rejects(
      pool.decode(await read("images/animated.gif"), { maxPixels: -5 }),
      RangeError,
    );
    // The worker is still usable after errors.
    assert.equal((await pool.decode(await read("images/animated.gif"))).width, 48);
  } finally {
    pool.close();
  }
});

Deno.test("DecoderPool close rejects pending and later requests", async () => {
  const pool = new DecoderPool({ size: 1 });
  const bytes = await read("images/exif_orient_1.jpg");
  const pending = [pool.decode(bytes), pool.decode(bytes)];
  pool.close();
  for (const request of pending) await assert.rejects(request, /closed/);
  await assert.rejects(pool.decode(bytes), /closed/);
  pool.close(); // a second close is harmless
});

Deno.test("DecoderPool validates its size", () => {
  assert.throws(() => new DecoderPool({ size: 0 }), RangeError);
  assert.throws(() => new DecoderPool({ size: 1.5 }), RangeError);
  assert.ok(new DecoderPool().size >= 1);
});
