// Measures ONNX Runtime latency for `deno task bench:infer`. Runs under Node.js
// because onnxruntime-node is a Node-API addon. Usage:
//   node scripts/ort_latency.mjs <install-dir> <runtime: node|web> <threads> <runs> <model.onnx>...
// Prints one JSON line per model: { model, runtime, threads, p50, p95, loadMs }.
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, runtime, threadArg, runArg, ...models] = process.argv.slice(2);
const threads = Number(threadArg);
const runs = Number(runArg);
if (!installDir || !["node", "web"].includes(runtime) || !(threads >= 1) || !(runs >= 1)) {
  console.error(
    "usage: node scripts/ort_latency.mjs <install-dir> <node|web> <threads> <runs> <model.onnx>...",
  );
  process.exit(2);
}

const require = createRequire(join(installDir, "package.json"));
const ort = runtime === "node"
  ? require("onnxruntime-node")
  : await import(pathToFileURL(require.resolve("onnxruntime-web")).href);

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

for (const path of models) {
  const options = runtime === "node"
    ? { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ["cpu"] }
    : { executionProviders: ["wasm"] };
  if (runtime === "web") ort.env.wasm.numThreads = threads;
  const started = performance.now();
  const session = await ort.InferenceSession.create(path, options);
  const loadMs = performance.now() - started;
  const inputName = session.inputNames[0];
  const size = 224;
  const input = new ort.Tensor("float32", new Float32Array(3 * size * size).fill(0.1), [
    1,
    3,
    size,
    size,
  ]);
  for (let i = 0; i < 3; i++) await session.run({ [inputName]: input });
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await session.run({ [inputName]: input });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const result = {
    model: basename(path, ".onnx"),
    runtime,
    threads,
    p50: percentile(times, 0.5),
    p95: percentile(times, 0.95),
    loadMs,
  };
  console.log(JSON.stringify(result));
  await session.release?.();
}
process.exit(0);
