/**
 * The demo page in headless Chromium: pick a TrashNet photo in the file input
 * and see the label that the API returns for the same photo. The browser runs
 * in a child process, for the reason given in `helpers/demo_page_browser.ts`.
 */
import assert from "node:assert/strict";
import { CHROMIUM, type DemoPageState } from "./helpers/chromium.ts";
import { createTestService, referencePredictions } from "./helpers/service.ts";

const PHOTO = new URL("../fixtures/trashnet-mini/glass/glass1.jpg", import.meta.url);
const BROWSER_SCRIPT = new URL("./helpers/demo_page_browser.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const hasChromium = await exists(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `SKIPPED demo page test: ${CHROMIUM} not found. Install it with "apt-get install chromium".`,
  );
}

async function runBrowser(url: string, photo: string): Promise<DemoPageState> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG.pathname, BROWSER_SCRIPT.pathname, url, photo],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const errorText = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `the browser script failed:\n${errorText}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test({
  name: "demo page shows the label",
  ignore: !hasChromium,
  async fn() {
    const service = await createTestService({ decodeWorkers: 1 });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      service.app.fetch,
    );
    try {
      const state = await runBrowser(`http://127.0.0.1:${server.addr.port}/`, PHOTO.pathname);
      const [expected] = await referencePredictions(await Deno.readFile(PHOTO), 1);

      assert.equal(state.error, "");
      assert.equal(state.label, expected.label);
      assert.equal(state.predictionRows, 3);
      assert.match(state.status, /^\d+x\d+ jpeg, [\d.]+ ms/);
      assert.deepEqual(state.consoleErrors, [], "the page must log no errors, CSP ones included");
    } finally {
      await server.shutdown();
      service.close();
    }
  },
});
