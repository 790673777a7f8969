/**
 * Regenerates the committed test fixtures under `tests/fixtures/`:
 *
 * - `trashnet-mini/<class>/`: the first four TrashNet photos of each class,
 *   downsized from 512x384 to 128x96 with `resizeImage` and encoded as
 *   quality-90 JPEG with jpeg-js, plus TrashNet's MIT licence;
 * - `images/`: small images made here (animated GIF and WebP, lossy and
 *   lossless WebP with alpha, truncated files, and headers that claim huge
 *   sizes for every format), and copies of the PngSuite and EXIF example
 *   files whose licences allow it (see `tests/fixtures/images/NOTICE.md`).
 *
 * Usage (the TrashNet photos and the licensed copies come from the data
 * folder, `../shared` by default):
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env scripts/make_fixtures.ts [--shared ../shared]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { makeImageFixtures } from "./fixtures/images.ts";
import { makeTrashnetMini } from "./fixtures/trashnet_mini.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { shared: { type: "string", default: "../shared" } },
});
const sharedDir = values.shared!;
const fixturesDir = new URL("../tests/fixtures/", import.meta.url).pathname;

await makeTrashnetMini(`${sharedDir}/data/trashnet`, `${fixturesDir}trashnet-mini`);
await makeImageFixtures(`${sharedDir}/fixtures/hard-images`, `${fixturesDir}images`);
console.log(`Fixtures written under ${fixturesDir}`);
