import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { startThreadedWasm } from "../../../shared/kernels/wasm_threads.ts";
import { assertClose, randomArray } from "./reference.ts";

const PROBE = new URL("./threaded_wasm_probe.ts", import.meta.url);

interface ProbeOutput {
  backend: string;
  threads: number;
  message: string;
  dx: number[];
  dw: number[];
}

async function runProbe(): Promise<ProbeOutput> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", PROBE.pathname],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  });
  const { code, stdout, stderr } = await command.output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `probe exited with ${code}: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

Deno.test("threaded wasm starts, computes gradients and exits", async () => {
  const probe = await runProbe();
  assert.equal(probe.backend, "wasm");
  assert.equal(probe.threads, Math.min(2, navigator.hardwareConcurrency), probe.message);

  await useBackend("cpu");
  const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")))
  )([
    tf.tensor4d(randomArray(2 * 8 * 8 * 16, 1, 0), [2, 8, 8, 16]),
    tf.tensor4d(randomArray(3 * 3 * 16 * 8, 2, 0), [3, 3, 16, 8]),
  ]);
  assertClose(probe.dx, await dx.data(), 1e-3);
  assertClose(probe.dw, await dw.data(), 1e-3);
  tf.dispose([dx, dw]);
});

Deno.test("startThreadedWasm rejects invalid thread counts", async () => {
  for (const threads of [0, 9, 1.5, Number.NaN]) {
    await assert.rejects(
      () => startThreadedWasm({ threads }),
      /Invalid wasm thread count .*: use an integer from 1 to 8/,
      `threads ${threads}`,
    );
  }
});
