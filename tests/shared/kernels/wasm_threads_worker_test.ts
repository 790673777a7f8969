import assert from "node:assert/strict";

const REPO = new URL("../../../", import.meta.url).pathname;

// Runs in a child process because the threaded build can start only once
// per process and must be the first wasm start there.
const SCRIPT = `
import { startThreadedWasm } from "${REPO}shared/kernels/wasm_threads.ts";
import { DecoderPool } from "${REPO}shared/image/decoder_pool.ts";
const started = await startThreadedWasm({ threads: 2 });
const pool = new DecoderPool({ size: 1 });
const folder = "${REPO}tests/fixtures/trashnet-mini/glass";
const name = [...Deno.readDirSync(folder)][0].name;
const image = await pool.decode(await Deno.readFile(folder + "/" + name));
pool.close();
console.log(JSON.stringify({ threads: started.threads, width: image.width }));
`;

Deno.test("Web Workers still start after the threaded wasm build", async () => {
  const path = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(path, SCRIPT);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      `${REPO}deno.json`,
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      path,
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    // Without the fix the decoder worker dies and the decode never settles.
    signal: AbortSignal.timeout(60_000),
  }).output();
  await Deno.remove(path);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const result = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").pop()!);
  assert.equal(result.width, 128);
  assert.ok(result.threads >= 1);
});
