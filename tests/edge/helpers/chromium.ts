/**
 * Where Debian's Chromium is and how the browser tests start it, shared by
 * the test (which must not import playwright-core) and the browser script.
 * @module
 */

/** Path of Debian's Chromium (`apt-get install chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags for a headless run that contacts no host other than the page's. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What the demo page shows after an upload. */
export interface DemoPageState {
  label: string;
  predictionRows: number;
  error: string;
  status: string;
  consoleErrors: string[];
}
