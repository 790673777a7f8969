/**
 * Starts the multithreaded SIMD build of tfjs-backend-wasm 4.22 under Deno,
 * so that XNNPACK's convolutions and matrix products use every core.
 *
 * The package's own start-up fails under Deno 2.9 in three places, and this
 * module works around each of them for the duration of the start-up only:
 *
 * 1. Deno defines `process`, so Emscripten's glue takes its Node.js branch
 *    and starts its pthread workers with `node:worker_threads` from the
 *    script URL that tfjs hands it, a `blob:` URL, which Deno rejects
 *    (`ERR_WORKER_PATH`). `URL.createObjectURL` is wrapped so that the
 *    worker script is a file in a temporary folder instead.
 * 2. That worker script assigns `self`, `location` and other names on the
 *    global object, which Deno defines as getters, so a prelude redefines
 *    them as plain properties. The worker then receives the main script as a
 *    Blob, which its `importScripts` cannot read, so the prelude points it at
 *    the package's own copy, `wasm-out/tfjs-backend-wasm-threaded-simd.js`.
 * 3. The C++ side caps the thread pool at `os.cpus().length / 2` because it
 *    assumes two hyperthreads per core, which gives one thread on a 2-core
 *    machine. So `os.cpus()` reports every CPU twice while the module starts.
 *
 * The workers are unreferenced afterwards, so they do not keep the process
 * alive. The temporary folder is removed when the process unloads.
 *
 * Measured on a 2-core x86-64 machine (Deno 2.9.6): with the machine idle
 * (1-minute load average 0.65), a 3x3 convolution of a [16, 32, 32, 64]
 * input took 43 ms on one thread and 23 ms on two. With the other core busy,
 * whole ResNet-18 + CBAM training steps were 1 to 11% slower on two threads
 * (`deno task bench:train`), hence the default of one thread per idle core.
 *
 * @example
 * ```ts
 * import { startThreadedWasm } from "./wasm_threads.ts";
 * const started = await startThreadedWasm({ threads: 2 });
 * console.log(started.threads, started.message);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import os from "node:os";

/** Options for {@linkcode startThreadedWasm}. */
export interface ThreadedWasmOptions {
  /**
   * Threads of XNNPACK's pool, the calling thread included, at most 8 (the
   * workers tfjs-backend-wasm creates). Default: the `TFJS_WASM_THREADS`
   * environment variable when set and readable, else one per idle core (the
   * logical CPU count minus the 1-minute load average, rounded, at least 1).
   */
  threads?: number;
}

/** The outcome of {@linkcode startThreadedWasm}. */
export interface ThreadedWasmResult {
  /** Threads XNNPACK uses; 1 when the threaded build did not start. */
  threads: number;
  /** Outcome description for the log. */
  message: string;
}

/** Maximum thread count of tfjs-backend-wasm 4.22, which creates 8 workers. */
export const MAX_WASM_THREADS = 8;

interface PThreadWorker {
  unref(): void;
}

interface WasmModuleWithThreads {
  PThread?: { unusedWorkers: PThreadWorker[]; runningWorkers: PThreadWorker[] };
}

const WORKER_GLOBALS = [
  "self",
  "location",
  "Worker",
  "performance",
  "postMessage",
  "importScripts",
  "require",
  "Module",
];

/** Reads `TFJS_WASM_THREADS`; undefined when unset or when env access is not granted. */
function threadsFromEnvironment(): number | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get("TFJS_WASM_THREADS");
  } catch {
    return undefined;
  }
  return value === undefined || value === "" ? undefined : Number(value);
}

/**
 * Returns one thread per core that looked idle over the last minute: the
 * logical CPU count minus the 1-minute load average, rounded, from 1 to
 * {@linkcode MAX_WASM_THREADS}. A thread pool whose threads wait for busy
 * cores is slower than one thread, so a loaded machine gets fewer threads.
 *
 * NOTE: the gain of two threads for a whole training step on an idle
 * machine is not measured; only the single-convolution speed-up is.
 */
function idleThreads(): { threads: number; why: string } {
  const cores = navigator.hardwareConcurrency;
  let load: number;
  try {
    load = Deno.loadavg()[0];
  } catch {
    return { threads: 1, why: "the load average is not readable (run with --allow-sys)" };
  }
  const threads = Math.max(1, Math.min(MAX_WASM_THREADS, cores, Math.round(cores - load)));
  return {
    threads,
    why: `${cores} logical CPUs with a 1-minute load average of ${load.toFixed(2)}`,
  };
}

function packageFile(relative: string): string {
  const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  return decodeURIComponent(new URL(relative, entry).pathname);
}

async function writeWorkerScript(): Promise<string> {
  const workerModule = await import(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js"
  ) as { default?: { wasmWorkerContents?: string }; wasmWorkerContents?: string };
  const contents = workerModule.wasmWorkerContents ?? workerModule.default?.wasmWorkerContents;
  if (typeof contents !== "string") {
    throw new Error("tfjs-backend-wasm's worker script was not found in its wasm-out folder.");
  }
  const mainScript = packageFile("../wasm-out/tfjs-backend-wasm-threaded-simd.js");
  const prelude = [
    `for (const key of ${JSON.stringify(WORKER_GLOBALS)}) {`,
    "  Object.defineProperty(globalThis, key, {",
    "    value: globalThis[key], writable: true, configurable: true, enumerable: true,",
    "  });",
    "}",
    `URL.createObjectURL = () => ${JSON.stringify(mainScript)};`,
    "URL.revokeObjectURL = () => {};",
    "",
  ].join("\n");

  const folder = await Deno.makeTempDir({ prefix: "tfjs-wasm-threads-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(folder, { recursive: true });
    } catch {
      // The folder is in the system's temporary directory; leaving it is harmless.
    }
  });
  const path = `${folder}/worker.cjs`;
  // tfjs escapes newlines the same way before it makes its Blob: the script
  // contains "\n" inside string literals.
  await Deno.writeTextFile(path, prelude + contents.replace(/\n/g, "\\n"));
  return path;
}

async function initializeWithHooks(workerPath: string): Promise<boolean> {
  const createObjectUrl = URL.createObjectURL;
  const cpus = os.cpus;
  // Emscripten's Node.js branch replaces the global Worker with
  // node:worker_threads' one for good. Web Workers started later, such as
  // the image decoder pool, then run without `self`, so it is restored.
  const worker = globalThis.Worker;
  URL.createObjectURL = (object: Blob) =>
    object instanceof Blob && object.type === "application/javascript"
      ? workerPath
      : createObjectUrl(object);
  (os as { cpus: typeof os.cpus }).cpus = () => [...cpus(), ...cpus()];
  try {
    return await tf.setBackend("wasm");
  } finally {
    URL.createObjectURL = createObjectUrl;
    (os as { cpus: typeof os.cpus }).cpus = cpus;
    globalThis.Worker = worker;
  }
}

function unrefWorkers(): void {
  const backend = tf.engine().registry["wasm"] as unknown as { wasm?: WasmModuleWithThreads };
  const module = backend?.wasm;
  const pool = module?.PThread;
  if (!pool) return;
  for (const worker of [...pool.unusedWorkers, ...pool.runningWorkers]) worker.unref();
}

/**
 * Starts the wasm backend with its threaded build and makes it the current
 * backend. When the wasm backend is already running, it reports that
 * backend's thread count instead. On failure it leaves the wasm backend
 * uninitialized and `WASM_HAS_MULTITHREAD_SUPPORT` off, so the next
 * `tf.setBackend("wasm")` starts the single-threaded SIMD build. The result
 * then has `threads: 1` and the error in `message`.
 */
export async function startThreadedWasm(
  options: ThreadedWasmOptions = {},
): Promise<ThreadedWasmResult> {
  const idle = idleThreads();
  const threads = options.threads ?? threadsFromEnvironment() ?? idle.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(
      `Invalid wasm thread count ${threads} (option threads or TFJS_WASM_THREADS): ` +
        `use an integer from 1 to ${MAX_WASM_THREADS}.`,
    );
  }
  // tf.findBackend would start the backend, so read the engine's registry.
  if (tf.engine().registry["wasm"]) {
    const running = getThreadsCount();
    return { threads: running, message: `wasm was already running with ${running} thread(s)` };
  }
  if (threads === 1) {
    const why = options.threads ?? threadsFromEnvironment() ? "one thread requested" : idle.why;
    return { threads: 1, message: `wasm on one thread: ${why}` };
  }
  try {
    const workerPath = await writeWorkerScript();
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    setThreadsCount(threads);
    if (!await initializeWithHooks(workerPath)) throw new Error("tf.setBackend returned false");
    unrefWorkers();
    const running = getThreadsCount();
    const why = options.threads ?? threadsFromEnvironment() ? "requested" : idle.why;
    return { threads: running, message: `wasm threaded SIMD build, ${running} threads (${why})` };
  } catch (error) {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setThreadsCount(1);
    return { threads: 1, message: `the threaded build failed to start: ${error}` };
  }
}
