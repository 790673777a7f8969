/**
 * `deno task bench:infer`: inference latency of the served networks, and
 * ONNX Runtime on the same networks and machine.
 *
 * 1. Model only (batch 1, 224 px, random weights): ResNet-18 and MobileNetV2
 *    with CBAM after every stage, on tfjs-backend-wasm, as the trained
 *    `tf.LayersModel` and as the compiled inference graph
 *    (`shared/model/inference.ts`).
 * 2. ONNX Runtime (`bench_infer_onnx.ts`): onnxruntime-node and
 *    onnxruntime-web with 1 and 2 threads on the same networks exported from
 *    PyTorch. This part is skipped with a message when PyTorch, Node.js or
 *    npm is missing.
 * 3. Photo to answer: `edge/server.ts` as a child process on 127.0.0.1
 *    serving ResNet-18 + CBAM at 224 px; cold start (process start to the
 *    first 200 answer), then `POST /v1/classify` latency for a 512x384 TrashNet
 *    JPEG and a 12-megapixel (4000x3000) JPEG made by upscaling it, then a
 *    burst of concurrent 12-megapixel uploads, and the server's peak RSS
 *    (VmHWM from /proc, so Linux only).
 *
 * Temporary files (the model folder, the photos, the ONNX files and the
 * ONNX Runtime install) go under `$TMPDIR/waste-vision-bench`.
 *
 * @example
 * ```sh
 * deno task bench:infer --runs 30 --out runs/bench_infer.json
 * ```
 * @module
 */
import { Command } from "commander";
import * as tf from "@tensorflow/tfjs";
import jpeg from "jpeg-js";
import { useBackend } from "../shared/backend.ts";
import { decodeImage } from "../shared/image/mod.ts";
import { compileInferenceModel } from "../shared/model/inference.ts";
import { saveModelDir } from "../shared/model/io.ts";
import { MODEL_FORMAT_VERSION, type ModelMetadata } from "../shared/model/metadata.ts";
import { buildMobileNetV2 } from "../shared/model/mobilenet_v2.ts";
import { buildResNet } from "../shared/model/resnet.ts";
import { resizeImage } from "../shared/preprocess.ts";
import { measureOnnxRuntime } from "./bench_infer_onnx.ts";

const PHOTO_512 = new URL("../../shared/data/trashnet/glass/glass1.jpg", import.meta.url);
const SERVER = new URL("../edge/server.ts", import.meta.url);
const REPO = new URL("../", import.meta.url);
const IMG_SIZE = 224;
const CLASS_NAMES = ["cardboard", "glass", "metal", "paper", "plastic", "trash"];

interface BenchOptions {
  runs: number;
  concurrency: number;
  out?: string;
}

/** Latency percentiles in milliseconds. */
interface Latency {
  p50: number;
  p95: number;
}

function percentiles(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { p50: Math.round(at(0.5) * 10) / 10, p95: Math.round(at(0.95) * 10) / 10 };
}

function parseOptions(): BenchOptions {
  const positiveInteger = (name: string) => (value: string) => {
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < 1) {
      throw new Error(`--${name} must be a positive integer, got "${value}".`);
    }
    return number;
  };
  return new Command()
    .name("bench:infer")
    .description("Measure model and photo-to-answer latency, and compare with ONNX Runtime.")
    .option("--runs <n>", "timed runs per measurement", positiveInteger("runs"), 30)
    .option(
      "--concurrency <n>",
      "12-megapixel uploads sent at once in the memory burst",
      positiveInteger("concurrency"),
      24,
    )
    .option("--out <file>", "also write the results as JSON to this file")
    .parse(["deno", "bench_infer", ...Deno.args])
    .opts<BenchOptions>();
}

function buildNetwork(name: "resnet18_cbam" | "mobilenet_v2_cbam"): tf.LayersModel {
  if (name === "resnet18_cbam") {
    const cbam = { kind: "stages" as const, stages: [1, 2, 3, 4] };
    return buildResNet({
      depth: 18,
      numClasses: CLASS_NAMES.length,
      imgSize: IMG_SIZE,
      cbam,
      seed: 1,
    });
  }
  const cbam = { kind: "stages" as const, stages: [1, 2, 3, 4, 5] };
  return buildMobileNetV2({ numClasses: CLASS_NAMES.length, imgSize: IMG_SIZE, cbam, seed: 1 });
}

async function timeRuns(predict: () => tf.Tensor, runs: number): Promise<Latency> {
  for (let i = 0; i < 5; i++) {
    const warm = predict();
    await warm.data();
    warm.dispose();
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const output = predict();
    await output.data();
    output.dispose();
    times.push(performance.now() - start);
  }
  return percentiles(times);
}

/** Model-only latency on wasm: the layers model and the compiled inference graph. */
async function measureModels(runs: number) {
  await useBackend("wasm");
  const results: Record<string, { layersModel: Latency; inferenceGraph: Latency }> = {};
  for (const name of ["resnet18_cbam", "mobilenet_v2_cbam"] as const) {
    const model = buildNetwork(name);
    const compiled = compileInferenceModel(model);
    const x = tf.randomNormal([1, IMG_SIZE, IMG_SIZE, 3]) as tf.Tensor4D;
    const layersModel = await timeRuns(() => model.predict(x) as tf.Tensor, runs);
    const inferenceGraph = await timeRuns(() => compiled.predict(x), runs);
    results[name] = { layersModel, inferenceGraph };
    console.log(
      `${name}: LayersModel p50 ${layersModel.p50} ms, p95 ${layersModel.p95} ms; ` +
        `inference graph p50 ${inferenceGraph.p50} ms, p95 ${inferenceGraph.p95} ms`,
    );
    x.dispose();
    compiled.dispose();
    model.dispose();
  }
  return results;
}

async function writeServedModel(dir: string): Promise<void> {
  const model = buildNetwork("resnet18_cbam");
  const metadata: ModelMetadata = {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: "bench-resnet18-cbam-random",
    modelVersion: "random-weights",
    architecture: {
      family: "resnet",
      depth: 18,
      cbam: { kind: "stages", stages: [1, 2, 3, 4] },
      cbamReduction: 16,
      cbamKernelSize: 7,
    },
    input: {
      imgSize: IMG_SIZE,
      resizeRatio: 0.875,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: "NHWC",
    },
    classNames: CLASS_NAMES,
    createdAt: new Date().toISOString(),
  };
  await saveModelDir(dir, model, metadata);
  model.dispose();
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

/** Upscales the 512x384 photo to 4000x3000 and encodes it at JPEG quality 90. */
async function makePhonePhoto(small: Uint8Array): Promise<Uint8Array> {
  const large = resizeImage(await decodeImage(small), 4000, 3000);
  const rgba = new Uint8Array(large.width * large.height * 4);
  for (let i = 0, j = 0; i < large.data.length; i += 3, j += 4) {
    rgba.set(large.data.subarray(i, i + 3), j);
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

function startServer(modelDir: string, port: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=weights,shared,node_modules,${modelDir}`,
      "--allow-env",
      "--allow-net=127.0.0.1",
      SERVER.pathname,
    ],
    cwd: REPO.pathname,
    env: { HOST: "127.0.0.1", PORT: String(port), MODEL_DIR: modelDir, LOG_LEVEL: "warning" },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

async function classify(baseUrl: string, photo: Uint8Array) {
  const startedAt = performance.now();
  const response = await fetch(`${baseUrl}/v1/classify`, {
    method: "POST",
    body: photo as Uint8Array<ArrayBuffer>,
    headers: { "content-type": "image/jpeg" },
  });
  const body = await response.json();
  return { status: response.status, ms: performance.now() - startedAt, body };
}

/** Returns the milliseconds from `startedAt` until the server first returns 200 for a classification. */
async function waitForFirstAnswer(baseUrl: string, photo: Uint8Array, startedAt: number) {
  const deadline = startedAt + 60_000;
  while (performance.now() < deadline) {
    try {
      const { status } = await classify(baseUrl, photo);
      if (status === 200) return Math.round(performance.now() - startedAt);
    } catch {
      // The server is not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(
    `The server at ${baseUrl} returned no 200 response within 60 s; check its log above.`,
  );
}

/**
 * Reads VmHWM (peak RSS) of `pid` in MiB. It runs `cat` because Deno 2.9
 * lets a script read /proc/<pid> files only with --allow-all.
 */
async function peakRssMiB(pid: number): Promise<number> {
  const output = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const match = /^VmHWM:\s+(\d+) kB/m.exec(new TextDecoder().decode(output.stdout));
  if (!match) throw new Error(`No VmHWM line in /proc/${pid}/status.`);
  return Math.round(Number(match[1]) / 1024);
}

async function measureEndpoint(workDir: string, options: BenchOptions) {
  const modelDir = `${workDir}/model-resnet18-cbam`;
  await writeServedModel(modelDir);
  const small = await readPhoto512();
  const photos = { "512x384": small, "4000x3000": await makePhonePhoto(small) };
  const port = freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const startedAt = performance.now();
  const server = startServer(modelDir, port);
  try {
    const coldStartMs = await waitForFirstAnswer(baseUrl, photos["512x384"], startedAt);
    console.log(`cold start (process start to first answer): ${coldStartMs} ms`);
    const photoResults: Record<string, unknown> = {};
    for (const [name, photo] of Object.entries(photos)) {
      const client: number[] = [];
      const stages: Record<string, number[]> = { decode: [], preprocess: [], inference: [] };
      for (let i = 0; i < options.runs; i++) {
        const { status, ms, body } = await classify(baseUrl, photo);
        if (status !== 200) {
          throw new Error(`Upload failed with ${status}: ${JSON.stringify(body)}`);
        }
        client.push(ms);
        for (const stage of Object.keys(stages)) stages[stage].push(body.timings_ms[stage]);
      }
      const stageP50 = Object.fromEntries(
        Object.entries(stages).map(([stage, values]) => [stage, percentiles(values).p50]),
      );
      photoResults[name] = { bytes: photo.length, client: percentiles(client), stageP50 };
      console.log(
        `${name} JPEG: photo to answer ${JSON.stringify(percentiles(client))} ms, stage p50 ${
          JSON.stringify(stageP50)
        }`,
      );
    }
    const burst = await Promise.all(
      Array.from({ length: options.concurrency }, () => classify(baseUrl, photos["4000x3000"])),
    );
    const failures = burst.filter((result) => result.status !== 200).length;
    const peakMiB = await peakRssMiB(server.pid);
    console.log(
      `${burst.length} concurrent 12 MP uploads: ${failures} failed; server peak RSS ${peakMiB} MiB`,
    );
    return {
      coldStartMs,
      photos: photoResults,
      burst: { uploads: burst.length, failures },
      peakMiB,
    };
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const workDir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/waste-vision-bench`;
  await Deno.mkdir(workDir, { recursive: true });
  console.log(
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} logical CPUs, ${
      new Date().toISOString()
    }`,
  );

  const models = await measureModels(options.runs);
  const onnxRuntime = await measureOnnxRuntime(workDir, options.runs);
  for (const reason of onnxRuntime.skipped) console.log(`ONNX Runtime skipped: ${reason}`);
  for (const r of onnxRuntime.results) {
    console.log(
      `${r.model}: onnxruntime-${r.runtime}, ${r.threads} thread(s): p50 ${
        r.p50.toFixed(1)
      } ms, p95 ${r.p95.toFixed(1)} ms`,
    );
  }
  const endpoint = await measureEndpoint(workDir, options);

  const report = {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    options,
    models,
    onnxRuntime,
    endpoint,
  };
  if (options.out) await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2) + "\n");
}

if (import.meta.main) await main();
