import assert from "node:assert/strict";
import { TorchCheckpointError } from "../../../shared/torch/errors.ts";
import {
  guessModelName,
  inferCbamSizes,
  inferClassCount,
  inferMobileNetV2Cbam,
  inferResNetBaseWidth,
  inferResNetCbam,
} from "../../../shared/torch/inspect.ts";
import { loadStateDictFile } from "../../../shared/torch/load_state_dict.ts";
import type { StateDict, StateDictTensor } from "../../../shared/torch/tensor.ts";
import { FIXTURES } from "./builders.ts";

const cases = JSON.parse(await Deno.readTextFile(`${FIXTURES}cases.json`)).cases as {
  name: string;
  model: string;
  checkpoint: string;
  cbam: unknown;
  numClasses: number;
  baseWidth?: number;
}[];

function tensor(shape: number[]): StateDictTensor {
  return { shape, dtype: "float32", data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
}

Deno.test("inspect reads the architecture of each fixture", async (t) => {
  for (const parityCase of cases) {
    await t.step(parityCase.name, async () => {
      const stateDict = await loadStateDictFile(`${FIXTURES}${parityCase.checkpoint}`);
      assert.equal(guessModelName(stateDict), parityCase.model);
      const mobile = parityCase.model === "mobilenet_v2";
      assert.equal(
        inferClassCount(stateDict, mobile ? "classifier.1" : "fc"),
        parityCase.numClasses,
      );
      const cbam = mobile ? inferMobileNetV2Cbam(stateDict) : inferResNetCbam(stateDict);
      assert.deepEqual(cbam, parityCase.cbam);
      if (!mobile) assert.equal(inferResNetBaseWidth(stateDict), parityCase.baseWidth);
      const sizes = inferCbamSizes(stateDict);
      if (parityCase.name.endsWith("_none")) assert.equal(sizes, undefined);
      else assert.deepEqual(sizes, { reduction: 16, kernelSize: 7 });
    });
  }
});

Deno.test("inspect rejects placements the builders lack", async (t) => {
  await t.step("ResNet CBAM in some blocks only", () => {
    const stateDict: StateDict = new Map([
      ["layer1.0.conv1.weight", tensor([4, 4, 3, 3])],
      ["layer1.1.conv1.weight", tensor([4, 4, 3, 3])],
      ["layer1.0.cbam.ca.fc1.weight", tensor([1, 4, 1, 1])],
    ]);
    assert.throws(() => inferResNetCbam(stateDict), /CBAM in some blocks but not in layer1\.1/);
  });
  await t.step("ResNet CBAM after stages and in blocks", () => {
    const stateDict: StateDict = new Map([
      ["layer1.0.cbam.ca.fc1.weight", tensor([1, 4, 1, 1])],
      ["layer2.cbam.ca.fc1.weight", tensor([1, 8, 1, 1])],
    ]);
    assert.throws(() => inferResNetCbam(stateDict), TorchCheckpointError);
  });
  await t.step("MobileNetV2 CBAM after features.5", () => {
    const stateDict: StateDict = new Map([["cbam.5.ca.fc1.weight", tensor([2, 32, 1, 1])]]);
    assert.throws(
      () => inferMobileNetV2Cbam(stateDict),
      /after features\.5 \("cbam\.5\.ca\.fc1\.weight"\)/,
    );
  });
  await t.step("CBAM reduction ratios that differ", () => {
    const stateDict: StateDict = new Map([
      ["layer1.cbam.ca.fc1.weight", tensor([8, 64, 1, 1])],
      ["layer4.cbam.ca.fc1.weight", tensor([32, 512, 1, 1])],
      ["layer4.cbam.sa.conv1.weight", tensor([1, 2, 7, 7])],
    ]);
    assert.throws(
      () => inferCbamSizes(stateDict),
      /layer4\.cbam\.ca\.fc1\.weight implies 16, but layer1\.cbam\.ca\.fc1\.weight \[8, 64\]/,
    );
  });
  await t.step("CBAM reduction 8 and kernel 3", () => {
    const stateDict: StateDict = new Map([
      ["layer1.cbam.ca.fc1.weight", tensor([8, 64, 1, 1])],
      ["layer1.cbam.sa.conv1.weight", tensor([1, 2, 3, 3])],
    ]);
    assert.deepEqual(inferCbamSizes(stateDict), { reduction: 8, kernelSize: 3 });
  });
});
