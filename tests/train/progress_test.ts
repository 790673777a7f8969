import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { type BarOutput, createProgress, formatDuration } from "../../train/progress.ts";

const NOT_TERMINAL = { isTerminal: () => false };
const TERMINAL = { isTerminal: () => true };

/** Runs `body` with the project's log records sent to an array, and returns them as text. */
async function captureLogs(body: () => void): Promise<string[]> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["waste-vision"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
    reset: true,
  });
  try {
    body();
  } finally {
    await reset();
  }
  return records.map((record) => record.message.map(String).join(""));
}

/** Creates a clock in milliseconds that the test advances by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Updates a progress display over 100 images in steps of 4, at 20 images/s. */
function runEpoch(options: { stream: { isTerminal(): boolean }; barOutput?: BarOutput }): void {
  const clock = manualClock();
  const progress = createProgress({
    total: 100,
    label: "epoch 2/5 train",
    now: clock.now,
    ...options,
  });
  for (let done = 4; done <= 100; done += 4) {
    clock.advance(200);
    progress.update(done, { loss: 2 - done / 100, accuracy: done / 200 });
  }
  progress.stop();
}

Deno.test("createProgress logs every 10% off a terminal", async (t) => {
  const lines = await captureLogs(() => runEpoch({ stream: NOT_TERMINAL }));

  await t.step("one line per tenth", () => {
    // Updates come every 4 images, so the tenths are logged at 12, 20, 32, ...
    const done = lines.map((line) => Number(line.match(/: (\d+)\/100 images/)?.[1]));
    assert.deepEqual(done, [12, 20, 32, 40, 52, 60, 72, 80, 92, 100]);
  });

  await t.step("rate, ETA, loss and accuracy", () => {
    assert.equal(
      lines[0],
      "epoch 2/5 train: 12/100 images (12%), 20 images/s, ETA 4s, loss 1.88, accuracy 0.06",
    );
    assert.match(
      lines.at(-1)!,
      /100\/100 images \(100%\), 20 images\/s, ETA 0s, loss 1, accuracy 0\.5$/,
    );
  });
});

Deno.test("createProgress stop logs the last state", async () => {
  const lines = await captureLogs(() => {
    const clock = manualClock();
    const progress = createProgress({
      total: 50,
      label: "val",
      stream: NOT_TERMINAL,
      now: clock.now,
    });
    clock.advance(1000);
    progress.update(3, { loss: 0.7, accuracy: 0.5 });
    progress.stop();
  });
  assert.deepEqual(lines, [
    "val: 3/50 images (6%), 3 images/s, ETA 16s, loss 0.7, accuracy 0.5",
  ]);
});

Deno.test("createProgress stop without updates logs nothing", async () => {
  const lines = await captureLogs(() => {
    createProgress({ total: 10, label: "val", stream: NOT_TERMINAL }).stop();
  });
  assert.deepEqual(lines, []);
});

Deno.test("createProgress draws a bar on a terminal", async (t) => {
  const written: string[] = [];
  const output: BarOutput = {
    isTTY: true,
    columns: 200,
    write(text) {
      written.push(text);
      return true;
    },
  };
  const lines = await captureLogs(() => runEpoch({ stream: TERMINAL, barOutput: output }));
  const screen = written.join("");

  await t.step("no log lines", () => {
    assert.deepEqual(lines, []);
  });

  await t.step("final bar shows totals and figures", () => {
    assert.match(screen, /epoch 2\/5 train \|/);
    assert.match(screen, /100% \| 100\/100 images \| 20\.0 images\/s \| ETA 0s/);
    assert.match(screen, /loss 1\.0000 \| accuracy 0\.5000/);
  });

  await t.step("redrawn in place", () => {
    // cli-progress returns to the start of the line (CSI G) before each redraw.
    assert.ok(
      screen.includes("\x1b[1G") || screen.includes("\r"),
      JSON.stringify(screen.slice(0, 80)),
    );
  });
});

Deno.test("createProgress rejects bad values", async (t) => {
  await t.step("negative total", () => {
    assert.throws(
      () => createProgress({ total: -1, label: "x", stream: NOT_TERMINAL }),
      /Invalid progress total -1/,
    );
  });
  await t.step("done beyond total", async () => {
    await captureLogs(() => {
      const progress = createProgress({ total: 10, label: "x", stream: NOT_TERMINAL });
      assert.throws(
        () => progress.update(11, { loss: 0, accuracy: 0 }),
        /Invalid progress value 11: use the number of images done, an integer in \[0, 10\]/,
      );
      progress.stop();
    });
  });
});

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59.4), "59s");
  assert.equal(formatDuration(125), "2m05s");
  assert.equal(formatDuration(3723), "1h02m03s");
  assert.equal(formatDuration(Infinity), "unknown");
});
