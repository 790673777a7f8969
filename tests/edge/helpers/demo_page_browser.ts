/**
 * Opens the demo page in headless Chromium with playwright-core, picks a
 * photo in its file input, and prints what the page shows as JSON.
 *
 * Usage: `deno run -A demo_page_browser.ts <page url> <photo path>`.
 *
 * It runs as a child process with `--allow-all` because playwright-core
 * 1.65.2 checks `/proc/sys/fs/binfmt_misc/WSLInterop` when it is imported,
 * and Deno 2.9 allows reading under `/proc/sys` only with `--allow-all`.
 * @module
 */
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, type DemoPageState } from "./chromium.ts";

async function uploadOnPage(url: string, photo: string): Promise<DemoPageState> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    await page.goto(url);
    await page.setInputFiles("#file", photo);
    await page.waitForSelector("#label:not(:empty), #error:not(:empty)", { timeout: 30_000 });
    return {
      label: await page.textContent("#label") ?? "",
      predictionRows: await page.locator("#predictions tr").count(),
      error: await page.textContent("#error") ?? "",
      status: await page.textContent("#status") ?? "",
      consoleErrors,
    };
  } finally {
    await browser.close();
  }
}

if (import.meta.main) {
  const [url, photo] = Deno.args;
  if (!url || !photo) {
    console.error("Usage: deno run -A demo_page_browser.ts <page url> <photo path>");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await uploadOnPage(url, photo)));
}
