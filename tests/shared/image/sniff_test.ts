import assert from "node:assert/strict";
import { sniffFormat } from "../../../shared/image/sniff.ts";
import { Rng } from "../../../shared/random.ts";
import { encodeJpeg, encodePng, makeImage } from "./helpers.ts";

const fixtures = new URL("../../fixtures/images/", import.meta.url);
const text = (value: string) => new TextEncoder().encode(value);

/** Builds an ISOBMFF `ftyp` box with a major brand and compatible brands. */
function ftyp(major: string, compatible: string[]): Uint8Array {
  const brands = [major, "\0\0\0\0", ...compatible].join("");
  const size = 8 + brands.length;
  return text(String.fromCharCode(0, 0, 0, size) + "ftyp" + brands);
}

Deno.test("sniffFormat recognizes each format's magic bytes", async () => {
  const tiny = makeImage(2, 2, () => [1, 2, 3]);
  assert.equal(sniffFormat(encodeJpeg(tiny, 90)), "jpeg");
  assert.equal(sniffFormat(encodePng(tiny)), "png");
  assert.equal(sniffFormat(text("GIF87a\x01\x00\x01\x00")), "gif");
  assert.equal(sniffFormat(await Deno.readFile(new URL("animated.gif", fixtures))), "gif");
  assert.equal(sniffFormat(await Deno.readFile(new URL("lossy.webp", fixtures))), "webp");
  assert.equal(sniffFormat(ftyp("heic", ["mif1", "heic"])), "heic");
  assert.equal(sniffFormat(ftyp("mif1", ["mif1", "heic"])), "heic");
  assert.equal(sniffFormat(text("II*\0\x08\0\0\0")), "tiff");
  assert.equal(sniffFormat(text("MM\0*\0\0\0\x08")), "tiff");
  const bmp = new Uint8Array(54);
  bmp.set(text("BM"));
  bmp[14] = 40; // BITMAPINFOHEADER size
  assert.equal(sniffFormat(bmp), "bmp");
  assert.equal(sniffFormat(text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')), "svg");
  assert.equal(
    sniffFormat(text('\uFEFF<?xml version="1.0"?>\n<!-- drawn -->\n<svg width="1"></svg>')),
    "svg",
  );
});

Deno.test("sniffFormat returns null for non-images", () => {
  assert.equal(sniffFormat(new Uint8Array(0)), null);
  assert.equal(sniffFormat(text("This is not a JPEG, whatever its name says.")), null);
  assert.equal(sniffFormat(text("<html><body>not svg</body></html>")), null);
  assert.equal(sniffFormat(text("BM but not a bitmap header")), null);
  assert.equal(sniffFormat(ftyp("avif", ["mif1", "avif"])), null, "AVIF is not HEIC");
  assert.equal(sniffFormat(ftyp("isom", ["isom", "mp41"])), null, "MP4 is not HEIC");
  assert.equal(sniffFormat(new Uint8Array([0xff, 0xd8])), null, "too short for JPEG");
});

Deno.test("sniffFormat ignores random bytes", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const bytes = Uint8Array.from({ length: 64 }, () => rng.int(256));
    // Skip the rare draws that start with a real signature byte sequence.
    if (bytes[0] === 0xff || bytes[0] === 0x89 || bytes[0] === 0x42) continue;
    assert.equal(sniffFormat(bytes), null, `trial ${trial}`);
  }
});
