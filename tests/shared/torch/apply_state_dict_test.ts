import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../../shared/backend.ts";
import { buildResNet, type CbamPlacement } from "../../../shared/model/resnet.ts";
import { applyStateDict } from "../../../shared/torch/apply_state_dict.ts";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import { loadStateDictFile } from "../../../shared/torch/load_state_dict.ts";
import type { StateDict } from "../../../shared/torch/tensor.ts";
import { FIXTURES } from "./builders.ts";

await useBackend("cpu");

const plain = await loadStateDictFile(`${FIXTURES}resnet18_w4_none.pth`);
const withCbam = await loadStateDictFile(`${FIXTURES}resnet18_w4_stages.safetensors`);
const ALL_STAGES: CbamPlacement = { kind: "stages", stages: [1, 2, 3, 4] };

function resnet18(numClasses = 5, cbam: CbamPlacement = { kind: "none" }, baseWidth = 4) {
  return buildResNet({ depth: 18, numClasses, imgSize: 48, cbam, baseWidth, seed: 1 });
}

function weightValues(model: tf.LayersModel, layer: string, index = 0): Float32Array {
  return model.getLayer(layer).getWeights()[index].dataSync() as Float32Array;
}

function copyWithout(stateDict: StateDict, ...keys: string[]): StateDict {
  const copy = new Map(stateDict);
  for (const key of keys) copy.delete(key);
  return copy;
}

function assertMismatch(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TorchCheckpointError, `expected TorchCheckpointError, got ${error}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("applyStateDict converts layouts", async (t) => {
  const model = resnet18();
  const result = applyStateDict(model, plain);

  await t.step("nothing skipped", () => {
    assert.deepEqual(result, { skipped: [], freshCbam: [] });
  });
  await t.step("conv OIHW to HWIO", () => {
    const torch = plain.get("conv1.weight")!; // [4, 3, 7, 7]
    const kernel = weightValues(model, "conv1"); // [7, 7, 3, 4]
    const [o, i, h, w] = [3, 2, 5, 1];
    assert.equal(kernel[((h * 7 + w) * 3 + i) * 4 + o], torch.data[((o * 3 + i) * 7 + h) * 7 + w]);
  });
  await t.step("linear [out, in] to [in, out]", () => {
    const torch = plain.get("fc.weight")!; // [5, 32]
    const kernel = weightValues(model, "fc"); // [32, 5]
    assert.equal(kernel[17 * 5 + 3], torch.data[3 * 32 + 17]);
    assert.deepEqual(weightValues(model, "fc", 1), plain.get("fc.bias")!.data);
  });
  await t.step("BatchNorm parameters and running statistics", () => {
    const keys = ["weight", "bias", "running_mean", "running_var"];
    keys.forEach((key, index) => {
      assert.deepEqual(
        weightValues(model, "layer2.0.bn1", index),
        plain.get(`layer2.0.bn1.${key}`)!.data,
      );
    });
  });
  model.dispose();
});

Deno.test("applyStateDict lists mismatching keys", async (t) => {
  await t.step("missing key", () => {
    const model = resnet18();
    assertMismatch(
      () => applyStateDict(model, copyWithout(plain, "layer3.1.bn2.running_var")),
      /1 keys missing from the checkpoint:\n {2}layer3\.1\.bn2\.running_var/,
    );
    model.dispose();
  });
  await t.step("unexpected key", () => {
    const model = resnet18();
    const extra = new Map(plain).set("head.weight", {
      shape: [1],
      dtype: "float32",
      data: new Float32Array(1),
    });
    assertMismatch(
      () => applyStateDict(model, extra),
      /1 keys in the checkpoint but not in the model:\n {2}head\.weight/,
    );
    model.dispose();
  });
  await t.step("other width", () => {
    const model = resnet18(5, { kind: "none" }, 8);
    assertMismatch(
      () => applyStateDict(model, plain),
      /keys with a different shape:\n {2}conv1\.weight: checkpoint \[4,3,7,7\], model expects \[8,3,7,7\]/,
    );
    model.dispose();
  });
  await t.step("other architecture", async () => {
    const resnet50 = await loadStateDictFile(`${FIXTURES}resnet50_w4_none.safetensors`);
    const model = resnet18();
    assertMismatch(
      () => applyStateDict(model, resnet50),
      /keys in the checkpoint but not in the model:\n {2}layer1\.0\.conv3\.weight/,
      /Check that --model, --cbam and the class count match/,
    );
    model.dispose();
  });
  await t.step("model unchanged after an error", () => {
    const model = resnet18();
    const before = weightValues(model, "conv1").slice();
    assert.throws(() => applyStateDict(model, copyWithout(plain, "fc.bias")), TorchCheckpointError);
    assert.deepEqual(weightValues(model, "conv1"), before);
    model.dispose();
  });
});

Deno.test("applyStateDict skips a classifier of another class count", async (t) => {
  await t.step("rejected by default", () => {
    const model = resnet18(3);
    assertMismatch(
      () => applyStateDict(model, plain),
      /fc\.weight: checkpoint \[5,32\], model expects \[3,32\]/,
      /fc\.bias: checkpoint \[5\], model expects \[3\]/,
    );
    model.dispose();
  });
  await t.step("skipped when allowed", () => {
    const model = resnet18(3);
    const fcBefore = weightValues(model, "fc").slice();
    const result = applyStateDict(model, plain, { allowClassifierMismatch: true });
    assert.deepEqual(result.skipped, ["fc.weight", "fc.bias"]);
    assert.deepEqual(weightValues(model, "fc"), fcBefore);
    assert.deepEqual(
      weightValues(model, "layer4.1.bn2", 3),
      plain.get("layer4.1.bn2.running_var")!.data,
    );
    model.dispose();
  });
  await t.step("skipped when absent and allowed", () => {
    const model = resnet18(3);
    const backbone = copyWithout(plain, "fc.weight", "fc.bias");
    assert.deepEqual(applyStateDict(model, backbone, { allowClassifierMismatch: true }).skipped, [
      "fc.weight",
      "fc.bias",
    ]);
    model.dispose();
  });
  await t.step("other input width still rejected", () => {
    const model = resnet18(3);
    const wide = new Map(plain).set("fc.weight", {
      shape: [3, 64],
      dtype: "float32" as const,
      data: new Float32Array(192),
    });
    assertMismatch(
      () => applyStateDict(model, wide, { allowClassifierMismatch: true }),
      /fc\.weight: checkpoint \[3,64\], model expects \[3,32\]/,
    );
    model.dispose();
  });
});

Deno.test("applyStateDict starts missing CBAM fresh", async (t) => {
  await t.step("rejected by default", () => {
    const model = resnet18(5, ALL_STAGES);
    assertMismatch(
      () => applyStateDict(model, plain),
      /12 keys missing from the checkpoint:\n {2}layer1\.cbam\.ca\.fc1\.weight/,
    );
    model.dispose();
  });
  await t.step("fresh when allowed", () => {
    const model = resnet18(5, ALL_STAGES);
    const result = applyStateDict(model, plain, { allowMissingCbam: true });
    assert.deepEqual(result.freshCbam, [
      "layer1.cbam",
      "layer2.cbam",
      "layer3.cbam",
      "layer4.cbam",
    ]);
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(
      weightValues(model, "layer3.1.conv2"),
      tf.tidy(() => {
        const torch = plain.get("layer3.1.conv2.weight")!;
        return tf.tensor4d(torch.data, torch.shape as [number, number, number, number])
          .transpose([2, 3, 1, 0]).dataSync() as Float32Array;
      }),
    );
    model.dispose();
  });
  await t.step("CBAM keys load when present", () => {
    const model = resnet18(5, ALL_STAGES);
    const result = applyStateDict(model, withCbam, { allowMissingCbam: true });
    assert.deepEqual(result.freshCbam, []);
    model.dispose();
  });
  await t.step("a partial CBAM module is an error", () => {
    const model = resnet18(5, ALL_STAGES);
    assertMismatch(
      () =>
        applyStateDict(model, copyWithout(withCbam, "layer2.cbam.sa.conv1.weight"), {
          allowMissingCbam: true,
        }),
      /1 keys missing from the checkpoint:\n {2}layer2\.cbam\.sa\.conv1\.weight/,
    );
    model.dispose();
  });
  await t.step("CBAM checkpoint into a plain model", () => {
    const model = resnet18();
    assertMismatch(
      () => applyStateDict(model, withCbam, { allowMissingCbam: true }),
      /12 keys in the checkpoint but not in the model/,
    );
    model.dispose();
  });
});
