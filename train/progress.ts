/**
 * Progress display for one training or evaluation pass. When stdout is a
 * terminal it draws a live progress bar with images/s and ETA. Otherwise, for
 * example when output goes to a file or a CI log, it logs a line every 10%.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const progress = createProgress({ total: 1768, label: "epoch 1/30 train" });
 * for (let done = 32; done < 1768; done += 32) {
 *   progress.update(done, { loss: 1.2, accuracy: 0.41 });
 * }
 * progress.update(1768, { loss: 1.1, accuracy: 0.44 });
 * progress.stop();
 * ```
 * @module
 */
import { SingleBar } from "cli-progress";
import process from "node:process";
import { getLogger } from "../shared/log.ts";

const logger = getLogger(["waste-vision", "progress"]);

/** Running figures shown beside the progress. */
export interface ProgressInfo {
  /** Mean loss so far. */
  loss: number;
  /** Accuracy so far, in [0, 1]. */
  accuracy: number;
}

/** A started progress display. */
export interface Progress {
  /** Shows that `done` of the total images are processed. */
  update(done: number, info: ProgressInfo): void;
  /**
   * Ends the display; the bar stays on screen and the log gets the final
   * state. Call it on interrupts too, because the bar turns off the
   * terminal's line wrapping until it stops.
   */
  stop(): void;
}

/** The part of a Node.js writable stream that cli-progress draws on. */
export interface BarOutput {
  /** True for a terminal. */
  isTTY?: boolean;
  /** Terminal width in characters. */
  columns?: number;
  /** Writes text, including ANSI cursor sequences. */
  write(text: string): boolean;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Number of images in the pass; an integer of at least 0. */
  total: number;
  /** Text before the bar or at the start of each log line, for example "epoch 3/30 train". */
  label: string;
  /** Stream whose `isTerminal()` selects the bar. Default: `Deno.stdout`. */
  stream?: { isTerminal(): boolean };
  /** Output stream for the bar. Default: `process.stdout`. */
  barOutput?: BarOutput;
  /** Clock in milliseconds for the images/s and ETA figures. Default: `performance.now`. */
  now?: () => number;
}

/**
 * Starts a progress display for `options.total` images.
 *
 * @throws {RangeError} if `total` is not a non-negative integer, or, from
 * `update`, if `done` is outside [0, total].
 */
export function createProgress(options: ProgressOptions): Progress {
  const { total, label } = options;
  if (!Number.isInteger(total) || total < 0) {
    throw new RangeError(`Invalid progress total ${total}: use the number of images, an integer.`);
  }
  const stream = options.stream ?? Deno.stdout;
  const now = options.now ?? (() => performance.now());
  const startedAt = now();
  const rate = (done: number) => done / Math.max((now() - startedAt) / 1000, 1e-9);

  const display = stream.isTerminal()
    ? createBar(total, label, options.barOutput ?? process.stdout)
    : createLogLines(total, label);
  return {
    update(done, info) {
      validateDone(done, total);
      display.update(done, info, rate(done));
    },
    stop() {
      display.stop();
    },
  };
}

interface Display {
  update(done: number, info: ProgressInfo, imagesPerSecond: number): void;
  stop(): void;
}

function createBar(total: number, label: string, output: BarOutput): Display {
  const bar = new SingleBar({
    format: `${label} |{bar}| {percentage}% | {value}/{total} images | {rate} images/s | ` +
      `ETA {eta_formatted} | loss {loss} | accuracy {accuracy}`,
    stream: output,
    // cli-progress's own SIGINT handler would stop the bar and swallow the
    // first Ctrl-C, which belongs to the training loop's interrupt handling.
    gracefulExit: false,
  });
  bar.start(total, 0, { rate: "-", loss: "-", accuracy: "-" });
  return {
    update(done, info, imagesPerSecond) {
      bar.update(done, {
        rate: imagesPerSecond.toFixed(1),
        loss: info.loss.toFixed(4),
        accuracy: info.accuracy.toFixed(4),
      });
    },
    stop() {
      bar.stop();
    },
  };
}

function createLogLines(total: number, label: string): Display {
  const step = total / 10;
  let nextLogAt = step;
  let last: { done: number; info: ProgressInfo; imagesPerSecond: number } | undefined;
  let loggedDone = -1;

  const log = (done: number, info: ProgressInfo, imagesPerSecond: number) => {
    const etaSeconds = imagesPerSecond > 0 ? (total - done) / imagesPerSecond : Infinity;
    logger.info(
      "{label}: {done}/{total} images ({percent}%), {rate} images/s, ETA {eta}, " +
        "loss {loss}, accuracy {accuracy}",
      {
        label,
        done,
        total,
        percent: total === 0 ? 100 : Math.floor((100 * done) / total),
        rate: roundTo(imagesPerSecond, 1),
        eta: formatDuration(etaSeconds),
        loss: roundTo(info.loss, 4),
        accuracy: roundTo(info.accuracy, 4),
      },
    );
    loggedDone = done;
  };

  return {
    update(done, info, imagesPerSecond) {
      last = { done, info, imagesPerSecond };
      if (done < nextLogAt && done < total) return;
      log(done, info, imagesPerSecond);
      nextLogAt = (Math.floor(done / step) + 1) * step;
    },
    stop() {
      if (last !== undefined && last.done !== loggedDone) {
        log(last.done, last.info, last.imagesPerSecond);
      }
    },
  };
}

function validateDone(done: number, total: number): void {
  if (!Number.isInteger(done) || done < 0 || done > total) {
    throw new RangeError(
      `Invalid progress value ${done}: use the number of images done, an integer in [0, ${total}].`,
    );
  }
}

/** Rounds to `digits` decimals, keeping the number a number so that log sinks do not quote it. */
function roundTo(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Formats seconds as `1h02m03s`, `2m03s` or `3s`; infinity as `unknown`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "unknown";
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  const pad = (value: number) => String(value).padStart(2, "0");
  if (hours > 0) return `${hours}h${pad(minutes)}m${pad(rest)}s`;
  if (minutes > 0) return `${minutes}m${pad(rest)}s`;
  return `${rest}s`;
}
