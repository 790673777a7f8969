import assert from "node:assert/strict";
import {
  describeWebGpuAdapter,
  missingTrainingKernels,
  TRAINING_GRADIENT_KERNELS,
  useBackend,
} from "../../../shared/backend.ts";

Deno.test("training kernels exist on cpu and wasm", () => {
  assert.ok(TRAINING_GRADIENT_KERNELS.includes("DepthwiseConv2dNativeBackpropInput"));
  assert.deepEqual(missingTrainingKernels("wasm"), []);
  assert.deepEqual(missingTrainingKernels("cpu"), []);
});

Deno.test("auto trains on wasm without a hardware GPU", async (t) => {
  const adapter = await describeWebGpuAdapter();
  const hardware = adapter.available && !adapter.isSoftware;
  await t.step({
    name: "training choice and reason",
    ignore: hardware,
    fn: async () => {
      // One thread keeps the single-threaded wasm build for the tests that follow.
      Deno.env.set("TFJS_WASM_THREADS", "1");
      const choice = await useBackend("auto", { training: true });
      Deno.env.delete("TFJS_WASM_THREADS");
      assert.equal(choice.backend, "wasm");
      assert.match(choice.reason, /WebGPU/);
      assert.match(choice.reason, /wasm has every gradient kernel the models need/);
    },
  });
  if (hardware) console.warn(`A hardware WebGPU adapter (${adapter.description}) is present.`);
  await useBackend("cpu");
});
