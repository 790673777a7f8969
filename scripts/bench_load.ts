/**
 * Load benchmark of the edge service. It starts `edge/server.ts` as a child
 * process on 127.0.0.1 and measures the per-stage latency of single uploads.
 * Then it sends concurrent uploads and reports latency percentiles,
 * throughput and the server's peak resident memory (VmHWM from /proc, so
 * Linux only).
 *
 * The photos are a 512x384 TrashNet photo, read from the TrashNet folder
 * beside the repository (`../shared/data/trashnet`), and a 12-megapixel
 * (4000x3000) JPEG made by upscaling it, which is the size of a typical phone
 * camera photo. Without `--model`, it serves `weights/default` when that folder
 * exists, otherwise a tiny untrained model written to a temporary folder,
 * whose inference time is much lower than a real model's.
 *
 * @example
 * ```sh
 * deno task bench:load --requests 200 --concurrency 50 --out runs/bench_load.json
 * ```
 * @module
 */
import { Command } from "commander";
import jpeg from "jpeg-js";
import { decodeImage } from "../shared/image/mod.ts";
import { resizeImage } from "../shared/preprocess.ts";
import { useBackend } from "../shared/backend.ts";
import { writeTinyModel } from "../tests/edge/helpers/tiny_model.ts";

const PHOTO_512 = new URL("../../shared/data/trashnet/glass/glass1.jpg", import.meta.url);
const SERVER = new URL("../edge/server.ts", import.meta.url);
const REPO = new URL("../", import.meta.url);

interface BenchOptions {
  model?: string;
  requests: number;
  concurrency: number;
  maxSeconds: number;
  workers: number;
  out?: string;
}

interface Stage {
  decode: number;
  preprocess: number;
  inference: number;
  total: number;
}

function parseOptions(): BenchOptions {
  const positiveInteger = (name: string) => (value: string) => {
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < 1) {
      throw new Error(`--${name} must be a positive integer, got "${value}".`);
    }
    return number;
  };
  const program = new Command()
    .name("bench:load")
    .description("Measure latency and peak memory of the edge service under concurrent uploads.")
    .option("--model <dir>", "model folder to serve (default: weights/default, else a tiny model)")
    .option(
      "--requests <n>",
      "concurrent-phase uploads per photo",
      positiveInteger("requests"),
      200,
    )
    .option("--concurrency <n>", "uploads in flight at once", positiveInteger("concurrency"), 50)
    .option(
      "--max-seconds <s>",
      "time limit of each phase, in seconds",
      positiveInteger("max-seconds"),
      120,
    )
    .option("--workers <n>", "DECODE_WORKERS of the server", positiveInteger("workers"), 2)
    .option("--out <file>", "also write the results as JSON to this file")
    .parse(["deno", "bench_load", ...Deno.args]);
  return program.opts<BenchOptions>();
}

async function resolveModelDir(requested?: string): Promise<{ dir: string; kind: string }> {
  if (requested) return { dir: requested, kind: "given" };
  const defaultDir = new URL("weights/default", REPO).pathname;
  try {
    await Deno.stat(`${defaultDir}/metadata.json`);
    return { dir: defaultDir, kind: "weights/default" };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await useBackend("cpu");
  const dir = `${await Deno.makeTempDir({ prefix: "bench-load-model-" })}/model`;
  await writeTinyModel(dir);
  return { dir, kind: "tiny untrained model (weights/default is missing)" };
}

/** Upscales the 512x384 photo to 4000x3000 and encodes it at JPEG quality 90. */
async function makePhonePhoto(): Promise<Uint8Array> {
  const small = await decodeImage(await readPhoto512());
  const large = resizeImage(small, 4000, 3000);
  const rgba = new Uint8Array(large.width * large.height * 4);
  for (let i = 0, j = 0; i < large.data.length; i += 3, j += 4) {
    rgba[j] = large.data[i];
    rgba[j + 1] = large.data[i + 1];
    rgba[j + 2] = large.data[i + 2];
    rgba[j + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: 4000, height: 3000 }, 90).data);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function startServer(modelDir: string, port: number, workers: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=weights,shared,node_modules,${modelDir}`,
      "--allow-env",
      "--allow-net=127.0.0.1",
      SERVER.pathname,
    ],
    cwd: REPO.pathname,
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      MODEL_DIR: modelDir,
      DECODE_WORKERS: String(workers),
      LOG_LEVEL: "warning",
    },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

async function waitUntilReady(baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/readyz`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // The server is not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The server at ${baseUrl} was not ready within ${timeoutMs} ms.`);
}

/**
 * Reads a `Vm...` line of /proc/<pid>/status, in MiB. It runs `cat` because
 * Deno 2.9 lets a script read /proc/<pid> files only with --allow-all.
 */
async function readMemoryMiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const status = new TextDecoder().decode(output.stdout);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`No ${field} line in /proc/${pid}/status.`);
  return Math.round(Number(match[1]) / 1024);
}

async function classify(baseUrl: string, photo: Uint8Array): Promise<{ ms: number; stage: Stage }> {
  const startedAt = performance.now();
  const response = await fetch(`${baseUrl}/v1/classify`, {
    method: "POST",
    body: photo as Uint8Array<ArrayBuffer>,
    headers: { "content-type": "image/jpeg" },
  });
  const body = await response.json();
  if (response.status !== 200) {
    throw new Error(`Upload failed with ${response.status}: ${JSON.stringify(body)}`);
  }
  return { ms: performance.now() - startedAt, stage: body.timings_ms };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)] * 10) / 10;
}

function medianStages(stages: Stage[]): Stage {
  const median = (key: keyof Stage) => percentile(stages.map((stage) => stage[key]), 50);
  return {
    decode: median("decode"),
    preprocess: median("preprocess"),
    inference: median("inference"),
    total: median("total"),
  };
}

/** Sends `count` uploads one at a time and returns the median stage timings. */
async function measureSingle(baseUrl: string, photo: Uint8Array, count: number) {
  const results = [];
  for (let i = 0; i < count; i++) results.push(await classify(baseUrl, photo));
  return {
    serverMs: medianStages(results.map((result) => result.stage)),
    clientMs: percentile(results.map((result) => result.ms), 50),
  };
}

/** Sends up to `requests` uploads, `concurrency` at a time, within `maxSeconds`. */
async function measureConcurrent(
  baseUrl: string,
  photo: Uint8Array,
  options: BenchOptions,
) {
  const latencies: number[] = [];
  const failures: string[] = [];
  let started = 0;
  const stopAt = performance.now() + options.maxSeconds * 1000;
  const phaseStart = performance.now();
  async function client(): Promise<void> {
    while (started < options.requests && performance.now() < stopAt) {
      started++;
      try {
        latencies.push((await classify(baseUrl, photo)).ms);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client));
  const seconds = (performance.now() - phaseStart) / 1000;
  return {
    completed: latencies.length,
    failed: failures.length,
    firstFailure: failures[0] ?? null,
    seconds: Math.round(seconds * 10) / 10,
    perSecond: Math.round((latencies.length / seconds) * 10) / 10,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

async function readPhoto512(): Promise<Uint8Array> {
  try {
    return await Deno.readFile(PHOTO_512);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `${PHOTO_512.pathname} not found. The benchmark needs the TrashNet photos in ../shared/data/trashnet beside the repository.`,
    );
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const model = await resolveModelDir(options.model);
  const photos = {
    "512x384 TrashNet JPEG": await readPhoto512(),
    "4000x3000 (12 MP) JPEG": await makePhonePhoto(),
  };
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = startServer(model.dir, port, options.workers);
  try {
    await waitUntilReady(baseUrl, 60_000);
    const idleMiB = await readMemoryMiB(server.pid, "VmRSS");
    console.log(`Model: ${model.dir} (${model.kind}); decode workers: ${options.workers}`);
    console.log(`Server RSS when ready: ${idleMiB} MiB`);
    const results: Record<string, unknown> = {};
    for (const [name, photo] of Object.entries(photos)) {
      const single = await measureSingle(baseUrl, photo, 5);
      const peakAfterSingleMiB = await readMemoryMiB(server.pid, "VmHWM");
      const load = await measureConcurrent(baseUrl, photo, options);
      const peakAfterLoadMiB = await readMemoryMiB(server.pid, "VmHWM");
      results[name] = { bytes: photo.length, single, load, peakAfterSingleMiB, peakAfterLoadMiB };
      const s = single.serverMs;
      console.log(
        `\n${name}, ${photo.length} bytes\n` +
          `  one at a time (median of 5): decode ${s.decode} ms, preprocess ${s.preprocess} ms, ` +
          `inference ${s.inference} ms, server total ${s.total} ms, client ${single.clientMs} ms\n` +
          `  ${options.concurrency} concurrent: ${load.completed} done, ${load.failed} failed ` +
          `in ${load.seconds} s (${load.perSecond}/s), latency p50 ${load.p50} ms, ` +
          `p95 ${load.p95} ms, p99 ${load.p99} ms\n` +
          `  peak RSS so far: ${peakAfterSingleMiB} MiB after the single uploads, ` +
          `${peakAfterLoadMiB} MiB after the concurrent ones`,
      );
      if (load.firstFailure) console.log(`  first failure: ${load.firstFailure}`);
    }
    const peakMiB = await readMemoryMiB(server.pid, "VmHWM");
    console.log(`\nServer peak RSS (VmHWM): ${peakMiB} MiB`);
    const report = { model, options, idleMiB, peakMiB, results, deno: Deno.version.deno };
    if (options.out) await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2));
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

if (import.meta.main) await main();
