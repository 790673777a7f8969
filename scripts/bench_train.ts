/**
 * Training benchmark: images per second of ResNet-18 + CBAM (after every
 * stage, 6 classes, SGD with momentum 0.9) on each available TensorFlow.js
 * backend, and on PyTorch on the same machine when Debian's python3-torch is
 * installed, in the same run.
 *
 * Each configuration (backend, wasm thread count, image size, mode) runs in
 * its own process, `scripts/bench_train_measure.ts`; PyTorch runs
 * `scripts/bench_train_torch.py` with the same model, batch size and update
 * rule on `--torch-threads` threads. Modes: `full` (every layer trains),
 * `frozen` (`--freeze-layers`: CBAM and the classifier) and `cached`
 * (frozen, with the frozen-prefix cache; PyTorch has no counterpart, so it
 * is compared with PyTorch's `frozen`).
 *
 * The results go to the console, to `--json`, and to the `## Training`
 * section of `--doc`, between the markers `<!-- bench:train start -->` and
 * `<!-- bench:train end -->`. The rest of the file is left as it is.
 *
 * @example
 * ```sh
 * deno task bench:train
 * deno task bench:train --sizes 128 --modes full --backends wasm --no-torch
 * ```
 * @module
 */
import os from "node:os";
import { Command, InvalidArgumentError } from "commander";
import { describeWebGpuAdapter } from "../shared/backend.ts";
import { type Measurement, type Mode, MODES } from "./bench_train_measure.ts";

const MEASURE = new URL("./bench_train_measure.ts", import.meta.url);
const TORCH_SCRIPT = new URL("./bench_train_torch.py", import.meta.url);
const REPO = new URL("../", import.meta.url);
const PYTHON = "/usr/bin/python3";
const START_MARKER = "<!-- bench:train start -->";
const END_MARKER = "<!-- bench:train end -->";

interface BenchOptions {
  sizes: number[];
  cpuSizes: number[];
  batchSize: number;
  modes: Mode[];
  backends: string[];
  wasmThreads: number[];
  warmup: number;
  steps: number;
  cpuSteps: number;
  torch: boolean;
  torchThreads: number;
  profile: boolean;
  json?: string;
  doc: string | false;
}

/** One row of the results: a tfjs measurement or a PyTorch one. */
interface Row {
  runtime: string;
  imgSize: number;
  mode: Mode;
  imagesPerSecond: number;
  fillSecondsPerImage?: number;
}

function integerList(name: string, min: number) {
  return (value: string): number[] => {
    const numbers = value.split(",").map(Number);
    if (numbers.some((n) => !Number.isInteger(n) || n < min)) {
      throw new InvalidArgumentError(
        `${name} must be a comma-separated list of integers of at least ${min}, got "${value}".`,
      );
    }
    return numbers;
  };
}

function integer(name: string, min: number) {
  return (value: string): number => integerList(name, min)(value)[0];
}

function parseOptions(): BenchOptions {
  const cores = navigator.hardwareConcurrency;
  const program = new Command()
    .name("bench:train")
    .description("Measure training images/s of ResNet-18 + CBAM on tfjs backends and PyTorch.")
    .option("--sizes <px,...>", "input sizes in pixels", integerList("--sizes", 32), [224, 128])
    .option(
      "--cpu-sizes <px,...>",
      "sizes measured on the slow cpu backend (a 224 px step takes minutes there)",
      integerList("--cpu-sizes", 32),
      [128],
    )
    .option("--batch-size <n>", "images per step", integer("--batch-size", 1), 16)
    .option("--modes <list>", `training modes among ${MODES.join(", ")}`, "full,frozen,cached")
    .option("--backends <list>", "tfjs backends among cpu, wasm, webgpu", "cpu,wasm,webgpu")
    .option(
      "--wasm-threads <n,...>",
      "wasm thread counts to measure",
      integerList("--wasm-threads", 1),
      [...new Set([1, Math.min(cores, 8)])],
    )
    .option("--warmup <n>", "untimed steps before timing", integer("--warmup", 0), 1)
    .option("--steps <n>", "timed steps", integer("--steps", 1), 3)
    .option("--cpu-steps <n>", "timed steps on the slow cpu backend", integer("--cpu-steps", 1), 1)
    .option("--no-torch", "skip PyTorch")
    .option("--torch-threads <n>", "torch.set_num_threads", integer("--torch-threads", 1), cores)
    .option("--profile", "add the kernel times of one wasm step at the smallest size", false)
    .option("--json <file>", "also write the results as JSON to this file")
    .option(
      "--doc <file>",
      "Markdown file whose Training results are replaced",
      "docs/BENCHMARKS.md",
    )
    .option("--no-doc", "leave the Markdown file alone")
    .parse(["deno", "bench:train", ...Deno.args]);
  const raw = program.opts();
  const modes = String(raw.modes).split(",") as Mode[];
  const unknown = modes.filter((mode) => !MODES.includes(mode));
  if (unknown.length > 0) {
    throw new Error(`--modes: unknown ${unknown.join(", ")}. Use ${MODES.join(", ")}.`);
  }
  const backends = String(raw.backends).split(",");
  const badBackend = backends.find((name) => !["cpu", "wasm", "webgpu"].includes(name));
  if (badBackend) throw new Error(`--backends: unknown "${badBackend}". Use cpu, wasm, webgpu.`);
  return { ...raw, modes, backends } as BenchOptions;
}

async function runJson<T>(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<T> {
  const output = await new Deno.Command(command, {
    args,
    env,
    cwd: REPO.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (output.code !== 0) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${command} ${args.join(" ")} exited with ${output.code}:\n${stderr}`);
  }
  return JSON.parse(stdout.split("\n").at(-1)!) as T;
}

function measureTfjs(
  spec: { backend: string; imgSize: number; mode: Mode; threads: number; profile?: boolean },
  options: BenchOptions,
): Promise<Measurement> {
  const steps = spec.backend === "cpu" ? options.cpuSteps : options.steps;
  // A cpu step takes a minute or more, and its JavaScript kernels need no warm-up.
  const warmup = spec.backend === "cpu" ? 0 : options.warmup;
  const args = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    MEASURE.pathname,
    `--backend=${spec.backend}`,
    `--img-size=${spec.imgSize}`,
    `--batch-size=${options.batchSize}`,
    `--mode=${spec.mode}`,
    `--warmup=${warmup}`,
    `--steps=${steps}`,
    ...(spec.profile ? ["--profile"] : []),
  ];
  return runJson<Measurement>(Deno.execPath(), args, { TFJS_WASM_THREADS: String(spec.threads) });
}

async function torchAvailable(): Promise<string | undefined> {
  try {
    const { code } = await new Deno.Command(PYTHON, { args: ["-c", "import torch, torchvision"] })
      .output();
    return code === 0 ? undefined : "import torch, torchvision failed";
  } catch (error) {
    return `${PYTHON} could not run (${error instanceof Error ? error.message : error})`;
  }
}

function measureTorch(
  imgSize: number,
  mode: "full" | "frozen",
  options: BenchOptions,
): Promise<{ imagesPerSecond: number; framework: string; threads: number }> {
  return runJson(PYTHON, [
    TORCH_SCRIPT.pathname,
    `--img-size=${imgSize}`,
    `--batch-size=${options.batchSize}`,
    `--mode=${mode}`,
    `--warmup=${options.warmup}`,
    `--steps=${options.steps}`,
    `--threads=${options.torchThreads}`,
  ], {});
}

/** Describes the CPU (model from node:os, which reads /proc/cpuinfo on Linux), cores and memory. */
function machineDescription(): string {
  const model = os.cpus()[0]?.model ?? "unknown CPU";
  const gib = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
  return `${model}, ${navigator.hardwareConcurrency} logical CPUs, ${gib} GiB memory, ` +
    `Deno ${Deno.version.deno}`;
}

function loadAverage(): string {
  return Deno.loadavg().map((value) => value.toFixed(2)).join(" ");
}

function torchCounterpart(mode: Mode): "full" | "frozen" {
  return mode === "full" ? "full" : "frozen";
}

function resultsMarkdown(
  rows: Row[],
  context: { command: string; date: string; machine: string; load: string; notes: string[] },
): string {
  const lines = [
    `- Command: \`${context.command}\``,
    `- Date: ${context.date}`,
    `- Machine: ${context.machine}`,
    `- Load average (1, 5, 15 min) before and after: ${context.load}`,
    ...context.notes.map((note) => `- ${note}`),
    "",
    "| input | mode | runtime | images/s | vs PyTorch |",
    "| ----- | ---- | ------- | -------- | ---------- |",
  ];
  for (const row of rows) {
    const torch = rows.find((r) =>
      r.runtime.startsWith("PyTorch") && r.imgSize === row.imgSize &&
      r.mode === torchCounterpart(row.mode)
    );
    const ratio = torch && !row.runtime.startsWith("PyTorch")
      ? `${(row.imagesPerSecond / torch.imagesPerSecond).toFixed(2)}x`
      : "";
    const fill = row.fillSecondsPerImage === undefined
      ? ""
      : ` (+${(row.fillSecondsPerImage * 1000).toFixed(0)} ms per image, once)`;
    lines.push(
      `| ${row.imgSize} px | ${row.mode} | ${row.runtime} | ${
        row.imagesPerSecond.toFixed(2)
      }${fill} | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

function profileMarkdown(measurement: Measurement): string {
  const total = measurement.profile!.filter((k) => !k.kernel.endsWith("__op"))
    .reduce((sum, k) => sum + k.milliseconds, 0);
  const lines = [
    "",
    "",
    `Kernel times of one step, wasm on ${plural(measurement.threads, "thread")}, ` +
    `${measurement.imgSize} px, ` +
    `batch ${measurement.batchSize}, full training (\`tf.profile\`, ${
      total.toFixed(0)
    } ms in all):`,
    "",
    "| kernel | ms | calls |",
    "| ------ | -- | ----- |",
  ];
  // tf.profile also lists each op wrapper (`name__op`) around its kernel.
  const kernels = measurement.profile!.filter((k) => !k.kernel.endsWith("__op"));
  for (const kernel of kernels.slice(0, 12)) {
    lines.push(`| ${kernel.kernel} | ${kernel.milliseconds.toFixed(0)} | ${kernel.calls} |`);
  }
  return lines.join("\n");
}

/** Replaces the text between the markers in `## Training`, adding the section when missing. */
async function updateDoc(path: string, body: string): Promise<void> {
  const block = `${START_MARKER}\n${body}\n${END_MARKER}`;
  let text = "# Benchmarks\n";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start >= 0 && end > start) {
    text = text.slice(0, start) + block + text.slice(end + END_MARKER.length);
  } else {
    text = `${text.trimEnd()}\n\n## Training\n\n### Latest run\n\n${block}\n`;
  }
  await Deno.writeTextFile(path, text);
  // `deno task check` runs `deno fmt --check`, which aligns Markdown tables.
  const formatted = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path] }).output();
  if (formatted.code !== 0) log(`deno fmt ${path} failed; run it before committing.`);
}

/** Returns "1 step" or "3 steps". */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function log(message: string): void {
  console.error(`[bench:train] ${message}`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const loadBefore = loadAverage();
  const notes: string[] = [
    `Batch ${options.batchSize}, SGD with momentum 0.9, ` +
    `${plural(options.warmup, "warm-up step")}, then ${plural(options.steps, "timed step")} ` +
    `(on the cpu backend: no warm-up, ${options.cpuSteps} timed, ` +
    `at ${options.cpuSizes.join(", ")} px only).`,
  ];
  const backends = [...options.backends];
  if (backends.includes("webgpu")) {
    const adapter = await describeWebGpuAdapter();
    if (!adapter.available || adapter.isSoftware) {
      backends.splice(backends.indexOf("webgpu"), 1);
      const why = adapter.available
        ? `a software adapter (${adapter.description})`
        : adapter.description;
      notes.push(`webgpu skipped: no hardware adapter, ${why}.`);
      log(`webgpu skipped: ${why}`);
    }
  }
  const rows: Row[] = [];
  const measurements: Measurement[] = [];
  for (const imgSize of options.sizes) {
    for (const mode of options.modes) {
      for (const backend of backends) {
        if (backend === "cpu" && !options.cpuSizes.includes(imgSize)) continue;
        const threadCounts = backend === "wasm" ? options.wasmThreads : [1];
        for (const threads of threadCounts) {
          log(`${backend} ${plural(threads, "thread")}, ${imgSize} px, ${mode}`);
          const result = await measureTfjs({ backend, imgSize, mode, threads }, options);
          measurements.push(result);
          const runtime = backend === "wasm"
            ? `tfjs wasm, ${plural(result.threads, "thread")}`
            : `tfjs ${backend}`;
          rows.push({
            runtime,
            imgSize,
            mode,
            imagesPerSecond: result.imagesPerSecond,
            fillSecondsPerImage: result.fillSecondsPerImage,
          });
          log(`  ${result.imagesPerSecond.toFixed(2)} images/s`);
        }
      }
    }
  }
  const torchMissing = options.torch ? await torchAvailable() : "--no-torch";
  if (torchMissing) {
    notes.push(`PyTorch skipped: ${torchMissing}.`);
    log(`PyTorch skipped: ${torchMissing}`);
  } else {
    const torchModes = [...new Set(options.modes.map(torchCounterpart))];
    for (const imgSize of options.sizes) {
      for (const mode of torchModes) {
        log(`PyTorch ${imgSize} px, ${mode}`);
        const result = await measureTorch(imgSize, mode, options);
        rows.push({
          runtime: `PyTorch ${result.framework.replace("pytorch ", "")}, ${result.threads} threads`,
          imgSize,
          mode,
          imagesPerSecond: result.imagesPerSecond,
        });
        log(`  ${result.imagesPerSecond.toFixed(2)} images/s`);
      }
    }
  }
  let profile: Measurement | undefined;
  if (options.profile && backends.includes("wasm")) {
    const imgSize = Math.min(...options.sizes);
    const threads = Math.max(...options.wasmThreads);
    log(`profile: wasm ${plural(threads, "thread")}, ${imgSize} px, full`);
    profile = await measureTfjs(
      { backend: "wasm", imgSize, mode: "full", threads, profile: true },
      {
        ...options,
        steps: 1,
      },
    );
  }

  const command = ["deno task bench:train", ...Deno.args].join(" ");
  const context = {
    command,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    machine: machineDescription(),
    load: `${loadBefore} / ${loadAverage()}`,
    notes,
  };
  const markdown = resultsMarkdown(rows, context) + (profile ? profileMarkdown(profile) : "");
  console.log(markdown);
  if (options.json) {
    await Deno.writeTextFile(
      options.json,
      JSON.stringify({ ...context, rows, measurements, profile }, null, 2),
    );
  }
  if (options.doc) await updateDoc(options.doc, markdown);
}

if (import.meta.main) await main();
