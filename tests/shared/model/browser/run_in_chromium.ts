/**
 * Opens a page in headless Chromium, calls `window.predictFixedInput` and
 * prints the logits as JSON.
 *
 * Usage: `deno run -A run_in_chromium.ts <page url> <model url> <img size>`.
 * It runs with `--allow-all` because playwright-core 1.65.2 reads under
 * `/proc/sys` when it is imported, which Deno allows only with `--allow-all`.
 * @module
 */
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../../edge/helpers/chromium.ts";
// Brings in the type of globalThis.predictFixedInput; nothing runs here.
import type {} from "./entry.ts";

const [pageUrl, modelUrl, imgSize] = Deno.args;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(pageUrl);
  await page.waitForFunction(() => typeof globalThis.predictFixedInput === "function");
  const logits = await page.evaluate(
    ([url, size]) => globalThis.predictFixedInput(url, size),
    [modelUrl, Number(imgSize)] as [string, number],
  );
  console.log(JSON.stringify(logits));
} finally {
  await browser.close();
}
