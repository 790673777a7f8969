/**
 * The ONNX Runtime side of `deno task bench:infer`: exports the benchmark
 * networks from PyTorch with `scripts/export_onnx.py`, installs
 * onnxruntime-node and onnxruntime-web into a folder outside the repository,
 * and measures them with `scripts/ort_latency.mjs` under Node.js.
 *
 * onnxruntime-node is installed with `npm install --ignore-scripts`, because
 * its install script downloads GPU libraries; the CPU library ships in the
 * package. Each step that cannot run (no PyTorch, no Node.js, no npm
 * registry) is skipped with a message, never failed.
 * @module
 */

/** ONNX Runtime packages compared, pinned. */
export const ORT_VERSION = "1.30.0";

const EXPORT_SCRIPT = new URL("./export_onnx.py", import.meta.url).pathname;
const RUNNER = new URL("./ort_latency.mjs", import.meta.url).pathname;
const PYTHON = "/usr/bin/python3";

/** One ONNX Runtime measurement in milliseconds. */
export interface OrtLatency {
  model: string;
  runtime: "node" | "web";
  threads: number;
  p50: number;
  p95: number;
  loadMs: number;
}

/** The outcome of {@linkcode measureOnnxRuntime}. */
export interface OrtReport {
  /** Measurements, empty when skipped. */
  results: OrtLatency[];
  /** Reasons for the parts that were skipped, for the report. */
  skipped: string[];
}

async function run(command: string, args: string[], cwd?: string) {
  try {
    const output = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { ok: output.success, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, stdout: "", stderr: `${command} not found` };
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Exports the networks to `dir` unless they are there; returns the .onnx paths or a skip reason. */
async function exportModels(dir: string): Promise<string[] | string> {
  const names = ["resnet18_cbam", "mobilenet_v2_cbam"];
  const paths = names.map((name) => `${dir}/${name}.onnx`);
  if ((await Promise.all(paths.map(exists))).every(Boolean)) return paths;
  const probe = await run(PYTHON, ["-c", "import torch"]);
  if (!probe.ok) {
    return `PyTorch is not importable by ${PYTHON} (apt-get install python3-torch python3-torchvision): ${probe.stderr.trim()}`;
  }
  const exported = await run(PYTHON, [EXPORT_SCRIPT, "--out", dir, "--img-size", "224"]);
  if (!exported.ok) return `export_onnx.py failed: ${exported.stderr.trim().slice(-500)}`;
  return paths;
}

/** Installs the ONNX Runtime packages into `dir` unless present; returns a skip reason on failure. */
async function installRuntime(dir: string): Promise<string | undefined> {
  const installed = await exists(`${dir}/node_modules/onnxruntime-node/package.json`) &&
    await exists(`${dir}/node_modules/onnxruntime-web/package.json`);
  if (installed) return undefined;
  await Deno.mkdir(dir, { recursive: true });
  if (!await exists(`${dir}/package.json`)) {
    await Deno.writeTextFile(`${dir}/package.json`, '{ "private": true }\n');
  }
  const result = await run("npm", [
    "install",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    `onnxruntime-node@${ORT_VERSION}`,
    `onnxruntime-web@${ORT_VERSION}`,
  ], dir);
  return result.ok
    ? undefined
    : `npm install of ONNX Runtime failed: ${result.stderr.trim().slice(-500)}`;
}

/**
 * Measures onnxruntime-node and onnxruntime-web on the exported networks with
 * 1 and 2 threads, `runs` timed runs each. `workDir` keeps the ONNX files and
 * the npm install between runs.
 */
export async function measureOnnxRuntime(workDir: string, runs: number): Promise<OrtReport> {
  const skipped: string[] = [];
  const models = await exportModels(`${workDir}/onnx`);
  if (typeof models === "string") return { results: [], skipped: [models] };
  const installDir = `${workDir}/ort-${ORT_VERSION}`;
  const installFailure = await installRuntime(installDir);
  if (installFailure) return { results: [], skipped: [installFailure] };

  const results: OrtLatency[] = [];
  for (const runtime of ["node", "web"] as const) {
    for (const threads of [1, 2]) {
      const output = await run("node", [
        RUNNER,
        installDir,
        runtime,
        String(threads),
        String(runs),
        ...models,
      ]);
      if (!output.ok) {
        skipped.push(
          `onnxruntime-${runtime} with ${threads} threads failed: ${
            output.stderr.trim().slice(-300)
          }`,
        );
        continue;
      }
      for (const line of output.stdout.trim().split("\n")) results.push(JSON.parse(line));
    }
  }
  return { results, skipped };
}
