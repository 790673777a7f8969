import assert from "node:assert/strict";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import {
  detectFormat,
  loadStateDictFile,
  parseStateDict,
  stripModulePrefix,
} from "../../../shared/torch/load_state_dict.ts";
import { encodeSafetensors, FIXTURES, float32Bytes } from "./builders.ts";

Deno.test("detectFormat reads the first bytes", async (t) => {
  await t.step("torch zip", async () => {
    assert.equal(detectFormat(await Deno.readFile(`${FIXTURES}reader_plain.pth`)), "torch-zip");
  });
  await t.step("safetensors", async () => {
    const bytes = await Deno.readFile(`${FIXTURES}reader_plain.safetensors`);
    assert.equal(detectFormat(bytes), "safetensors");
  });
  await t.step("legacy pickle", async () => {
    const bytes = await Deno.readFile(`${FIXTURES}reader_legacy.pth`);
    assert.throws(() => detectFormat(bytes, "old.pth"), /old\.pth is in PyTorch's legacy/);
  });
});

Deno.test("loadStateDictFile names a missing file", async () => {
  await assert.rejects(
    loadStateDictFile(`${FIXTURES}no_such_file.pth`),
    (error: unknown) => {
      assert.ok(error instanceof TorchCheckpointError);
      assert.match(error.message, /Checkpoint not found: .*no_such_file\.pth/);
      return true;
    },
  );
});

Deno.test("parseStateDict cleans keys and dtypes", async (t) => {
  await t.step("module. prefixes stripped", () => {
    assert.equal(stripModulePrefix("module.module.layer1.0.conv1.weight"), "layer1.0.conv1.weight");
    assert.equal(stripModulePrefix("features.module.x"), "features.module.x");
  });
  await t.step("keys that collide once stripped", () => {
    const tensor = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
    const bytes = encodeSafetensors(
      { "module.fc.bias": tensor, "fc.bias": { ...tensor, data_offsets: [4, 8] } },
      float32Bytes([1, 2]),
    );
    assert.throws(() => parseStateDict(bytes), /key "fc\.bias" appears twice/);
  });
  await t.step("int64 weights rejected", () => {
    const bytes = encodeSafetensors(
      { "fc.weight": { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    assert.throws(() => parseStateDict(bytes, "ints.safetensors"), /"fc\.weight" is int64/);
  });
  await t.step("file without tensors", () => {
    const bytes = encodeSafetensors({ __metadata__: {} }, new Uint8Array());
    assert.throws(() => parseStateDict(bytes, "empty.safetensors"), /contains no weight tensors/);
  });
});
